"""`checkpoint decode` as a subprocess: the JSON-lines contract, polygons, binary data, bad files."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from scanner.sources.synthetic import render_qr
from tests.helpers import VECTORS

CASES = {c["name"]: c["payload"] for c in json.loads((VECTORS / "cases.json").read_text(encoding="utf-8"))}
EXE = shutil.which("checkpoint", path=str(Path(sys.executable).parent)) or "checkpoint"


def checkpoint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)


def test_decode_json_lines_one_per_image_and_bad_files_do_not_stop_the_run(tmp_path):
    two = np.full((300, 700), 255, np.uint8)
    a, b = render_qr(CASES["green"], module_px=2), render_qr(CASES["red"], module_px=2)
    two[20:20 + a.shape[0], 10:10 + a.shape[1]] = a
    two[20:20 + b.shape[0], 360:360 + b.shape[1]] = b
    cv2.imwrite(str(tmp_path / "two.jpg"), two)
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((100, 100), 255, np.uint8))
    (tmp_path / "junk.png").write_bytes(b"\x89PNG broken")
    images = [str(VECTORS / "qr" / "green.png"), str(tmp_path / "missing.png"), str(tmp_path / "junk.png"),
              str(tmp_path / "two.jpg"), str(tmp_path / "blank.png")]
    r = checkpoint("decode", "--json", *images)
    assert r.returncode == 1, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [line["image"] for line in lines] == images
    green, missing, junk, pair, blank = lines
    assert green["codes"] == [{"text": CASES["green"],
                               "bytes_b64": base64.b64encode(CASES["green"].encode()).decode(),
                               "polygon": green["codes"][0]["polygon"]}]
    assert isinstance(green["ms"], float)
    # green.png: 57 modules of 4 px after a 4-module quiet zone: the symbol spans 16..244.
    assert green["codes"][0]["polygon"] == [[16.0, 16.0], [244.0, 16.0], [244.0, 244.0], [16.0, 244.0]]
    assert "no such file" in missing["error"] and "codes" not in missing
    assert "not an image" in junk["error"]
    assert sorted(c["text"] for c in pair["codes"]) == sorted([CASES["green"], CASES["red"]])
    left = next(c for c in pair["codes"] if c["text"] == CASES["green"])
    xs = [p[0] for p in left["polygon"]]
    assert 10 < min(xs) < max(xs) < 10 + a.shape[1]  # in the image's own pixels
    assert blank["codes"] == []


def test_decode_binary_payload_has_null_text_and_exact_bytes(tmp_path):
    raw = b"\x00\xffHCC1\x80"
    cv2.imwrite(str(tmp_path / "bin.png"), render_qr(raw, module_px=4))
    for decoder in ("zxing", "zbar"):
        r = checkpoint("decode", "--json", "--decoder", decoder, str(tmp_path / "bin.png"))
        assert r.returncode == 0, r.stderr
        (code,) = json.loads(r.stdout)["codes"]
        assert code["text"] is None and base64.b64decode(code["bytes_b64"]) == raw


def test_decode_plain_output(tmp_path):
    r = checkpoint("decode", str(VECTORS / "qr" / "url.png"), str(tmp_path / "nope.png"))
    assert r.returncode == 1
    assert r.stdout.splitlines() == [f"{VECTORS / 'qr' / 'url.png'}: {CASES['url']}"]
    assert "nope.png: no such file" in r.stderr and "Traceback" not in r.stderr


def test_decode_plain_output_keeps_one_line_per_code_whatever_the_file_is_called(tmp_path):
    # A newline in a name would start a line that reads as another file's result; the name is shown as a
    # JSON string instead, as `--json` gives it.
    odd = tmp_path / "a\nb: \u202e.png"
    shutil.copyfile(VECTORS / "qr" / "url.png", odd)
    blank = tmp_path / "blank\r.png"
    cv2.imwrite(str(blank), np.full((100, 100), 255, np.uint8))
    r = checkpoint("decode", str(odd), str(blank), str(tmp_path / "no\nsuch.png"))
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines == [f"{json.dumps(str(odd))}: {CASES['url']}", f"{json.dumps(str(blank))}: no QR code"]
    assert json.loads(lines[0].rpartition(": ")[0]) == str(odd)
    (error,) = r.stderr.splitlines()
    assert "no\\nsuch.png: no such file" in error


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """A JPEG with an EXIF APP1 segment holding only the Orientation tag."""
    import struct

    tiff = (b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1)
            + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0))
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def test_decode_polygon_ignores_exif_orientation(tmp_path):
    img = np.full((300, 500), 255, np.uint8)
    code = render_qr(CASES["yellow"], module_px=3)
    img[10:10 + code.shape[0], 230:230 + code.shape[1]] = code
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    path = tmp_path / "rotated.jpg"
    path.write_bytes(_with_exif_orientation(buf.tobytes(), 6))  # "rotate 90° clockwise to view"
    assert cv2.imread(str(path)).shape[:2] == (500, 300)  # a viewer would turn it
    r = checkpoint("decode", "--json", str(path))
    assert r.returncode == 0, r.stderr
    (found,) = json.loads(r.stdout)["codes"]
    assert found["text"] == CASES["yellow"]
    xs, ys = [p[0] for p in found["polygon"]], [p[1] for p in found["polygon"]]
    # In the file's own pixel grid: where the code was drawn (x from 230, y from 10), not turned.
    assert 230 < min(xs) < max(xs) < 230 + code.shape[1]
    assert 10 < min(ys) < max(ys) < 10 + code.shape[0]
