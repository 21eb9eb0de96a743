"""`checkpoint check` as a subprocess: the vectors, images, exit codes and error messages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import VECTORS

CASES = json.loads((VECTORS / "cases.json").read_text(encoding="utf-8"))
EXE = shutil.which("checkpoint", path=str(Path(sys.executable).parent)) or "checkpoint"


def checkpoint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True, timeout=120)


def case_args(case: dict, d: Path) -> list[str]:
    args = ["--at", str(case["at"]), "--max-code-age", str(case["max_code_age"])]
    for i, pem in enumerate(case["trust_anchors"]):
        (d / f"a{i}.pem").write_text(pem)
        args += ["--anchor", str(d / f"a{i}.pem")]
    (d / "tl.json").write_text(json.dumps(case["trust_list"]))
    args += ["--trust-list", str(d / "tl.json")]
    for i, sl in enumerate(case["status_lists"]):
        (d / f"s{i}.json").write_text(json.dumps(sl))
        args += ["--status-list", str(d / f"s{i}.json")]
    return args


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector_through_cli(case: dict, tmp_path: Path) -> None:
    r = checkpoint("check", "--json", *case_args(case, tmp_path), "-", stdin=case["payload"] + "\n")
    exp = case["expected"]
    if "error" in exp:
        assert r.returncode == 2
        assert r.stdout == ""
        assert r.stderr.count("\n") == 1 and "trust list" in r.stderr
        return
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1
    got = json.loads(lines[0])
    for k, v in exp.items():
        g = got[k]
        if k == "guardian":
            g = {"name": g["name"], "relation": g["relation"]}
        assert g == v, k
    assert {"format", "verdict", "status", "admit", "issuer", "name", "type", "guardian", "code_id",
            "message"} <= set(got)
    assert got["admit"] is (exp["verdict"] == "ok" and exp["status"] == "green")


def test_images_through_cli(tmp_path: Path) -> None:
    case = next(c for c in CASES if c["name"] == "guardian")
    r = checkpoint("check", "--json", *case_args(case, tmp_path), "--image", str(VECTORS / "qr" / "guardian.png"),
                   "--image", str(VECTORS / "qr" / "red.png"))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(x["verdict"], x["status"]) for x in rows] == [("ok", "green"), ("ok", "red")]
    assert rows[0]["guardian"]["relation"] == 1


def test_several_payloads_and_human_output(world, tmp_path: Path) -> None:
    args = ["--anchor", str(world.anchor_path), "--trust-list", str(world.trust_list_path)]
    for p in world.status_list_paths:
        args += ["--status-list", str(p)]
    r = checkpoint("check", *args, world.payloads["green"], world.payloads["forged"], world.payloads["card"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("✓ ADMIT") and "ok/green" in lines[0] and "Zhejiang" in lines[0]
    assert "bad_signature" in lines[1] and "possibly forged" in lines[1]
    assert "card" in lines[2]


def test_stdin_streams_a_verdict_per_line_as_lines_arrive(world) -> None:
    args = ["--anchor", str(world.anchor_path), "--trust-list", str(world.trust_list_path)]
    for p in world.status_list_paths:
        args += ["--status-list", str(p)]
    with subprocess.Popen([EXE, "check", "--json", *args, "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        # A program feeding one code at a time gets each verdict before it sends the next.
        for name, verdict in (("green", "ok"), ("forged", "bad_signature"), ("green", "ok")):
            proc.stdin.write(world.payloads[name] + "\r\n")
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["verdict"] == verdict
        proc.stdin.write("\n   \n" + world.payloads["card"])  # blank lines skipped, no final newline
        proc.stdin.close()
        assert [json.loads(line)["type"] for line in proc.stdout] == ["card"]
    assert proc.returncode == 0


def test_refused_status_list_is_reported_and_ignored(world, tmp_path: Path) -> None:
    doc = json.loads(world.status_list_paths[0].read_text())
    doc["payload"] = doc["payload"][:-4] + ("AAAA" if not doc["payload"].endswith("AAAA") else "BBBB")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    r = checkpoint("check", "--json", "--anchor", str(world.anchor_path), "--trust-list",
                   str(world.trust_list_path), "--status-list", str(bad), world.payloads["card"])
    assert r.returncode == 0
    assert "bad.json" in r.stderr and "ignored" in r.stderr
    assert json.loads(r.stdout)["verdict"] == "status_unverified"


@pytest.mark.parametrize("args, message", [
    (["--at", "yesterday"], "--at 'yesterday'"),
    (["--anchor", "/nonexistent/root.pem"], "/nonexistent/root.pem"),
    (["--trust-list", "/nonexistent/tl.json"], "/nonexistent/tl.json"),
])
def test_bad_input_names_what_was_wrong(world, args: list[str], message: str) -> None:
    base = {"--anchor": str(world.anchor_path), "--trust-list": str(world.trust_list_path)}
    for k, v in zip(args[::2], args[1::2], strict=True):
        base[k] = v
    flat = [x for kv in base.items() for x in kv]
    if "--at" in args:
        flat += ["--at", args[1]]
    r = checkpoint("check", *flat, world.payloads["green"])
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_iso_time_and_profile(world) -> None:
    # A month on: the code has expired while its key is still within its validity.
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30 * 86400))
    r = checkpoint("check", "--json", "--anchor", str(world.anchor_path), "--trust-list",
                   str(world.trust_list_path), "--profile", "hospital", "--at", at,
                   world.payloads["green"])
    assert r.returncode == 0
    got = json.loads(r.stdout)
    assert got["verdict"] == "expired" and got["profile"] == "hospital" and got["admit"] is False


def test_hostile_lists_give_verdicts_or_a_clear_refusal(world, tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(b'{"protected": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")
    huge = tmp_path / "huge.json"
    # Signed lists with integers beyond 64 bits are covered in tests/keys; here an unsigned one.
    huge.write_text('{"protected": "e30", "payload": "e30", "signature": "", "x": ' + "9" * 30 + "}")
    r = checkpoint("check", "--json", "--anchor", str(world.anchor_path), "--trust-list",
                   str(world.trust_list_path), "--status-list", str(deep), "--status-list", str(huge),
                   world.payloads["green"])
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert "deep.json" in r.stderr and "nested too deeply" in r.stderr and "ignored" in r.stderr
    assert json.loads(r.stdout)["verdict"] == "ok"
    r = checkpoint("check", "--json", "--anchor", str(world.anchor_path), "--trust-list", str(deep),
                   world.payloads["green"])
    assert r.returncode == 2 and "nested too deeply" in r.stderr and "Traceback" not in r.stderr
