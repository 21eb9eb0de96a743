"""`checkpoint scan` as a subprocess: images, synthetic scenes and scanner lines through the pipeline."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from scanner.sources.synthetic import render_qr

EXE = shutil.which("checkpoint", path=str(Path(sys.executable).parent)) or "checkpoint"


def checkpoint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True, timeout=120)


def trust(world) -> list[str]:
    args = ["--anchor", str(world.anchor_path), "--trust-list", str(world.trust_list_path)]
    for p in world.status_list_paths:
        args += ["--status-list", str(p)]
    return args


def test_scan_a_folder_of_photos(world, tmp_path):
    names = ["green", "red", "forged"]
    for i, name in enumerate(names):
        img = np.full((480, 640), 200, np.uint8)
        code = render_qr(world.samples[name].payload, module_px=3)
        img[30:30 + code.shape[0], 150:150 + code.shape[1]] = code
        cv2.imwrite(str(tmp_path / f"{i}.png"), img)
    r = checkpoint("scan", "--source", f"dir:{tmp_path}", "--json", *trust(world))
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    got = [e for e in events if e["event"] == "decision"]
    assert [e["payload"] for e in got] == [world.samples[n].payload for n in names]
    assert [(e["decision"]["verdict"], e["decision"]["admit"]) for e in got] == [
        ("ok", True), ("ok", False), ("bad_signature", False)]
    for e in got:
        assert e["latency_ms"] >= e["decode_ms"] > 0 and e["decision_ms"] > 0 and e["codes_in_frame"] == 1
        assert len(e["polygon"]) == 4
    assert events[-1] == {"event": "ended", "source": f"dir:{tmp_path}",
                          "message": f"dir:{tmp_path} has no more input"}


def test_scan_synthetic_scenes_for_a_number_of_frames(world):
    r = checkpoint("scan", "--source", "synthetic", "--show", world.samples["yellow"].payload,
                   "--fps", "60", "--frames", "20", *trust(world))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # Held in view for all 20 frames: one decision, debounced after that.
    assert len(lines) == 1 and "ok/yellow" in lines[0] and "latency" in lines[0]
    assert "item(s) processed" in r.stderr


def test_scan_lines_from_stdin_like_a_hardware_scanner(world):
    stdin = world.samples["green"].payload + "\n" + world.samples["revoked"].payload + "\n"
    r = checkpoint("scan", "--source", "stdin", "--json", *trust(world), stdin=stdin)
    assert r.returncode == 0, r.stderr
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(e["event"], e.get("source")) for e in got] == [("decision", "stdin"), ("decision", "stdin"),
                                                          ("ended", "stdin")]
    assert got[0]["decision"]["admit"] is True and got[1]["decision"]["verdict"] == "revoked"
    assert got[0]["decode_ms"] == 0


def test_scan_errors_are_clear(world, tmp_path):
    r = checkpoint("scan", "--source", "webcam", *trust(world))
    assert r.returncode == 2 and "unknown source 'webcam'" in r.stderr
    r = checkpoint("scan", "--source", "synthetic", *trust(world))
    assert r.returncode == 2 and "needs payloads" in r.stderr
    # A file source that cannot be read at all is bad input (exit 2), its "ended" line saying why.
    r = checkpoint("scan", "--source", f"dir:{tmp_path}", "--json", *trust(world))
    assert r.returncode == 2
    assert json.loads(r.stdout.splitlines()[-1])["event"] == "ended" and "no images" in r.stdout
    r = checkpoint("scan", "--source", "serial:/dev/does-not-exist", "--duration", "0.5", *trust(world))
    assert r.returncode == 0 and "disconnected: scanner on /dev/does-not-exist could not be opened" in r.stderr


def test_scan_of_a_file_source_that_cannot_be_read_exits_2(world, tmp_path):
    (tmp_path / "noise.avi").write_bytes(bytes(range(256)) * 200)
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "half.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    for spec, why in ((f"file:{tmp_path / 'missing.png'}", "no such file"),
                      (f"video:{tmp_path / 'noise.avi'}", "not a video this build can read"),
                      (f"dir:{cut}", "none of the images can be read")):
        r = checkpoint("scan", "--source", spec, *trust(world))
        assert r.returncode == 2, (spec, r.stderr)
        assert why in r.stderr and "0 decision(s)" in r.stderr
    # A source read to its end is a run that went well, whatever the codes said.
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((120, 120), 255, np.uint8))
    r = checkpoint("scan", "--source", f"file:{tmp_path / 'blank.png'}", *trust(world))
    assert r.returncode == 0, r.stderr
