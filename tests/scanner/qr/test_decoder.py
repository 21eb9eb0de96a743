"""QR decoding from real pixels: conformance PNGs, generated gate scenes, non-QR images, raw bytes."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from scanner.errors import InputError
from scanner.qr.decoder import (
    EVIDENCE,
    PASS_COST_MS,
    FrameDecoder,
    Pass,
    code_evidence,
    decode_image,
    read_image,
    to_gray,
)
from scanner.sources.synthetic import Distortion, background, empty_frame, gate_frame, render_qr
from tests.helpers.payloads import VECTORS, centre, fresh_payloads, vector_cases

CASES = {c["name"]: c["payload"] for c in vector_cases()}


@pytest.fixture(scope="module")
def decoder() -> FrameDecoder:
    return FrameDecoder()


@pytest.fixture(scope="module")
def payloads() -> list[str]:
    return fresh_payloads(6)


@pytest.mark.parametrize("png", sorted((VECTORS / "qr").glob("*.png")), ids=lambda p: p.stem)
def test_every_conformance_png_decodes_to_its_payload(png, decoder):
    expected = CASES[png.stem]
    # Alphanumeric mode cannot hold a trailing newline: the symbol carries the payload without it.
    if expected != expected.rstrip():
        expected = expected.rstrip()
    img = read_image(str(png))
    for thorough in (False, True):
        codes = decoder.decode(img, thorough=thorough)
        assert [c.text for c in codes] == [expected]
        assert codes[0].data == expected.encode("ascii")
    # The quiet zone is 4 modules: the polygon sits inside the image, clear of its edges.
    xs = [p[0] for p in codes[0].polygon]
    assert min(xs) > 0 and max(xs) < img.shape[1]


def test_bgr_and_gray_give_the_same_code_and_polygon(decoder, payloads):
    gray = np.full((480, 640), 200, np.uint8)
    code = render_qr(payloads[0], module_px=3)
    gray[40:40 + code.shape[0], 300:300 + code.shape[1]] = code
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    a, b = decoder.decode(gray, thorough=False), decoder.decode(bgr, thorough=False)
    assert [c.text for c in a] == [c.text for c in b] == [payloads[0]]
    assert a[0].polygon == b[0].polygon
    # Corners of the symbol (quiet zone excluded): 4 modules of 3 px in from where it was pasted.
    cx, cy = centre(a[0].polygon)
    side = code.shape[0]
    assert abs(cx - (300 + side / 2)) < 3 and abs(cy - (40 + side / 2)) < 3



@pytest.mark.parametrize("channels", [3, 4])
def test_a_colour_frame_converted_on_the_calling_thread_gives_opencvs_grey(channels):
    rng = np.random.default_rng(channels)
    # Row bands that do not divide the height, and a crop of a larger frame (rows with a stride).
    big = rng.integers(0, 256, (700, 1300, channels), dtype=np.uint8)
    for frame in (big[:481, :333], big[:480, :640], big[100:140, 7:1207], big):
        whole = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if channels == 3 else cv2.COLOR_BGRA2GRAY)
        banded = to_gray(frame, serial=True)
        assert banded.flags.c_contiguous and banded.shape == whole.shape
        assert np.array_equal(banded, whole)


def test_a_colour_camera_frame_reads_as_its_grey_one(payloads):
    gray = np.full((480, 640), 200, np.uint8)
    code = render_qr(payloads[1], module_px=3)
    gray[100:100 + code.shape[0], 200:200 + code.shape[1]] = code
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    a, b = FrameDecoder().decode(gray), FrameDecoder().decode(bgr)
    assert [c.text for c in a] == [c.text for c in b] == [payloads[1]]
    assert a[0].polygon == b[0].polygon

SCENES = {
    "plain": Distortion(angle=5, tilt=0.0, blur=(0, 0), noise=(1, 2), glare=0, inverted=0, jpeg=0),
    "blur": Distortion(blur=(0.25, 0.35), glare=0, inverted=0),
    "noise": Distortion(noise=(10, 14), glare=0, inverted=0),
    "rotation": Distortion(angle=180, tilt=0.02, glare=0, inverted=0),
    "perspective": Distortion(tilt=0.14, glare=0, inverted=0),
    "small": Distortion(module_px=(2.3, 2.6), blur=(0, 0.2), glare=0, inverted=0),
    "large": Distortion(module_px=(5.0, 5.5), glare=0, inverted=0),
    "low_contrast": Distortion(contrast=(0.25, 0.35), glare=0, inverted=0),
    "glare": Distortion(glare=1.0, inverted=0, blur=(0, 0.2)),
    "inverted": Distortion(inverted=1.0, glare=0),
}


@pytest.mark.parametrize("kind", sorted(SCENES))
def test_generated_gate_scenes_decode(kind, decoder, payloads):
    rng = np.random.default_rng(sum(map(ord, kind)))
    misses = 0
    for i in range(8):
        payload = payloads[i % len(payloads)]
        frame, placed = gate_frame(rng, [payload], distortion=SCENES[kind])
        codes = decoder.decode(frame, thorough=True)
        # Never a wrong code, whatever happens.
        assert all(c.text == payload for c in codes)
        if not codes:
            misses += 1
            continue
        (code,) = codes
        tx, ty = centre(placed[0].polygon)
        cx, cy = code.center
        assert math.hypot(tx - cx, ty - cy) < 6
    assert misses == 0


def test_several_codes_in_one_frame(decoder, payloads):
    rng = np.random.default_rng(7)
    gentle = Distortion(angle=20, glare=0, inverted=0, contrast=(0.7, 1.0))
    for n, (w, h) in ((2, (640, 480)), (3, (1280, 720)), (4, (1280, 720))):
        frame, placed = gate_frame(rng, payloads[:n], w, h, gentle)
        codes = decoder.decode(frame, thorough=True)
        assert sorted(c.text for c in codes) == sorted(payloads[:n])
        for p in placed:
            (code,) = [c for c in codes if c.text == p.payload]
            assert math.hypot(*(a - b for a, b in zip(code.center, centre(p.polygon), strict=True))) < 8


def test_random_non_qr_images_yield_no_codes(decoder):
    rng = np.random.default_rng(11)
    images = [empty_frame(rng) for _ in range(8)]
    images += [background(rng, 640, 480).astype(np.uint8) for _ in range(4)]
    images += [rng.integers(0, 256, (480, 640), dtype=np.uint8) for _ in range(3)]
    # Blocky black-and-white noise looks like QR modules to a binarizer, the worst case for a decoder.
    for block in (3, 4, 6):
        cells = (rng.random((480 // block, 640 // block)) < 0.5).astype(np.uint8) * 255
        images.append(np.kron(cells, np.ones((block, block), np.uint8)))
    # A real symbol with every module outside the finder patterns randomised: a wrecked QR code.
    modules = render_qr("HCC1:" + "ABCDEF0123" * 10, module_px=1, border=0)
    n = modules.shape[0]
    keep = np.zeros_like(modules, dtype=bool)
    keep[:8, :8] = keep[:8, n - 8:] = keep[n - 8:, :8] = True
    wrecked = np.where(keep, modules, (rng.random(modules.shape) < 0.5) * 255).astype(np.uint8)
    images.append(np.kron(np.pad(wrecked, 4, constant_values=255), np.ones((5, 5), np.uint8)))
    for img in images:
        assert decoder.decode(img, thorough=True) == []


def test_byte_mode_data_comes_back_as_the_exact_bytes_from_both_decoders():
    raw = b"\xff\xfe\x00HCC1\x80\x81binary"
    utf8 = "HCC1:健康码 ok"
    for payload, text in ((raw, None), (utf8.encode("utf-8"), utf8)):
        img = np.full((400, 400), 255, np.uint8)
        code = render_qr(payload, module_px=5)
        img[50:50 + code.shape[0], 50:50 + code.shape[1]] = code
        for names in (["zxing"], ["zbar"]):
            codes = FrameDecoder(names, fallbacks=False).decode(img, thorough=False)
            assert [(c.data, c.text) for c in codes] == [(payload, text)], names


# Pass costs for the tests of the camera's turns: which passes a frame gets follows from these and the
# budget alone, never from how busy the machine is. Every camera pass fits the 1 ms budget beside the
# global-threshold one.
COSTS = {"zxing+global": 0.2, "zxing+flatten": 0.4, "zxing+sharpen": 0.4, "zxing+smooth": 0.4, "zxing+invert": 0.4,
         "zxing+area": 0.1, "zxing+upscale": 0.5, "zxing+clahe": 0.5, "zxing+clahe+upscale": 0.8}


def counted(fd: FrameDecoder, shapes: list[tuple[int, ...]] | None = None) -> list[str]:
    """The names of the fallback passes `fd` runs on camera frames from now on, in order (and the shape of
    the image each was given, into `shapes`)."""
    calls: list[str] = []

    def count(p: Pass) -> Pass:
        def run(img):
            calls.append(p.name)
            if shapes is not None:
                shapes.append(img.shape)
            return p.run(img)
        return Pass(p.name, run, p.camera)

    fd.camera_passes = [count(p) for p in fd.camera_passes]
    return calls


def test_a_code_read_with_nothing_else_code_like_gets_no_fallback_passes(payloads):
    frame, _ = gate_frame(np.random.default_rng(8), [payloads[2]], distortion=SCENES["plain"])
    fd = FrameDecoder(slow_pass_every=3)
    calls = counted(fd)
    for _ in range(6):  # every Nth frame among them: no search for a second phone without evidence of one
        (code,) = fd.decode(frame)
        assert code.text == payloads[2] and code.method in ("zxing", "zxing+global")
    assert calls == []


def two_phones_one_dark(payloads: list[str]):
    """Two phones, the right one in dark mode and out of focus: the fast pass reads the left one only
    (the inverted global-threshold read on its box defeated by the blur), sharpening reads the right one."""
    frame, placed = gate_frame(np.random.default_rng(9), payloads[:2], distortion=SCENES["plain"])
    xs = [int(x) for x, _ in placed[1].polygon]
    ys = [int(y) for _, y in placed[1].polygon]
    x0, x1, y0, y1 = min(xs) - 12, max(xs) + 12, min(ys) - 12, max(ys) + 12
    frame[y0:y1, x0:x1] = cv2.GaussianBlur(255 - frame[y0:y1, x0:x1], (0, 0), 1.45)
    return frame, placed


def test_a_still_image_with_a_second_code_only_a_fallback_reads_gives_both(payloads):
    frame, _ = two_phones_one_dark(payloads)
    fd = FrameDecoder()
    assert [c.text for c in fd.decode(frame, thorough=False)] == [payloads[0]]
    assert sorted(c.text for c in fd.decode(frame, thorough=True)) == sorted(payloads[:2])


def test_a_second_phone_only_a_fallback_reads_is_read_in_the_same_frame_from_a_crop(payloads):
    frame, placed = two_phones_one_dark(payloads)
    fd = FrameDecoder(slow_pass_every=3)
    assert [c.text for c in fd.decode(frame, thorough=False)] == [payloads[0]]
    shapes: list[tuple[int, ...]] = []
    counted(fd, shapes)
    codes = fd.decode(frame)  # the first camera frame, not an Nth one
    assert sorted(c.text for c in codes) == sorted(payloads[:2])
    (second,) = [c for c in codes if c.text == payloads[1]]
    assert math.hypot(*(a - b for a, b in zip(second.center, centre(placed[1].polygon), strict=True))) < 8
    # The fallbacks read the box around the unread phone, not the frame.
    assert shapes and all(h * w < frame.size / 2 for h, w in shapes)


def test_a_dark_mode_phone_is_read_on_the_first_camera_frame(payloads):
    # Dark mode: beyond the fast pass on the whole frame (no inversion); the box around the code-like
    # patches gets an inverted global-threshold read when the upright one finds no symbol at all.
    frame, _ = gate_frame(np.random.default_rng(5), [payloads[0]], distortion=Distortion(inverted=1.0, glare=0))
    assert code_evidence(frame)[0] >= EVIDENCE
    fd = FrameDecoder(slow_pass_every=3)
    assert fd.decode(frame, thorough=False) == []
    calls = counted(fd)
    (code,) = fd.decode(frame)  # the first camera frame, not the third
    assert code.text == payloads[0] and code.method == "zxing+global"
    assert calls == []  # no fallback pass was needed


def test_a_code_under_a_glare_spot_is_read_on_the_first_camera_frame(payloads):
    # A glare spot squeezes the modules under its rim into a few grey levels near white: neither threshold
    # reads them; less the local mean (the flatten pass, on the box around the code) they read.
    frame, placed = gate_frame(np.random.default_rng(242), [payloads[0]],
                               distortion=Distortion(glare=1.0, inverted=0.0, jpeg=0.0))
    assert FrameDecoder(fallbacks=False).decode(frame, thorough=False) == []
    without = {name: cost for name, cost in PASS_COST_MS.items() if name != "zxing+flatten"}
    assert FrameDecoder(slow_pass_every=3, pass_costs=without).decode(frame) == []
    fd = FrameDecoder(slow_pass_every=3)
    shapes: list[tuple[int, ...]] = []
    calls = counted(fd, shapes)
    (code,) = fd.decode(frame)  # the first camera frame, not an Nth one
    assert code.text == payloads[0] and code.method == "zxing+flatten"
    assert math.hypot(*(a - b for a, b in zip(code.center, centre(placed[0].polygon), strict=True))) < 8
    # Within the frame's budget: on the box around the code, after the global-threshold pass.
    assert calls == ["zxing+global", "zxing+flatten"]
    assert all(h * w < frame.size / 2 for h, w in shapes)
    assert [c.text for c in decode_image(frame)] == [payloads[0]]  # a still image too


def test_a_clean_code_that_does_not_look_code_like_is_read_on_every_frame(payloads):
    # Large, sharp modules on a plain card: few module edges per patch, but one threshold reads it.
    card = np.full((360, 480), 230, np.uint8)
    code = render_qr(payloads[1], module_px=5)
    card[10:10 + code.shape[0], 100:100 + code.shape[1]] = code
    assert code_evidence(card)[0] < EVIDENCE
    middle = (100 + code.shape[1] / 2, 10 + code.shape[0] / 2)
    for image in (card, 255 - card):  # dark mode too
        fd = FrameDecoder(slow_pass_every=3)
        for _ in range(2):
            (found,) = fd.decode(image)
            assert found.text == payloads[1] and found.method == "zxing+global"
            # Read at half the resolution, placed in the frame's own pixels.
            assert math.hypot(found.center[0] - middle[0], found.center[1] - middle[1]) < 3


def test_a_code_too_small_to_look_code_like_is_still_read_on_every_third_nth_frame():
    # One-pixel modules, slightly blurred: beyond the fast pass, within reach of the sharpening pass.
    payload = "HCC1:" + "ABCDEFGH12345" * 8
    frame = np.full((480, 640), 128, np.uint8)
    code = render_qr(payload, module_px=1)
    frame[50:50 + code.shape[0], 60:60 + code.shape[1]] = code
    frame = cv2.GaussianBlur(frame, (0, 0), 0.6)
    assert code_evidence(frame)[0] < EVIDENCE
    fd = FrameDecoder(slow_pass_every=3, pass_costs=COSTS)
    # Half-resolution reads on the other frames (the Nth ones with the local threshold) cannot see it.
    for _ in range(8):
        assert fd.decode(frame) == []
    # On every third Nth frame the fast pass reads the whole frame; zxing sees a symbol it cannot read, in
    # come the fallbacks.
    (code_found,) = fd.decode(frame)
    assert code_found.text == payload and code_found.method != "zxing"
    assert fd.decode(frame) == []  # the count starts over


def test_a_dim_screen_that_does_not_look_code_like_is_read_by_the_full_pass_on_every_third_nth_frame(payloads):
    # A screen at low brightness: 18 grey levels between modules, below the glance's edge threshold and
    # beyond the half-resolution reads; only the fast pass on the whole frame reads it.
    code = render_qr(payloads[3], module_px=3).astype(np.float32)
    scene = np.full((480, 640), 120, np.float32)
    scene[60:60 + code.shape[0], 150:150 + code.shape[1]] += code / 255 * 18
    scene += np.random.default_rng(12).normal(0, 1.5, scene.shape)
    frame = np.clip(scene, 0, 255).astype(np.uint8)
    assert code_evidence(frame)[0] < EVIDENCE
    fd = FrameDecoder(slow_pass_every=3)
    for _ in range(8):
        assert fd.decode(frame) == []
    (found,) = fd.decode(frame)
    assert found.text == payloads[3] and found.method == "zxing"


def test_an_empty_gate_gets_no_fallback_passes():
    rng = np.random.default_rng(21)
    fd = FrameDecoder(slow_pass_every=3)
    calls = counted(fd)
    for _ in range(30):
        assert fd.decode(empty_frame(rng)) == []
    assert calls == []


def test_a_still_code_like_scene_gets_every_pass_once_then_rests_until_it_changes():
    def wall(seed: int) -> np.ndarray:
        cells = (np.random.default_rng(seed).random((120, 160)) < 0.5).astype(np.uint8) * 255
        return np.kron(cells, np.ones((4, 4), np.uint8))

    rng = np.random.default_rng(22)

    def seen(img: np.ndarray) -> np.ndarray:  # fresh sensor noise on every frame
        return np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)

    tiles = wall(3)
    assert code_evidence(tiles)[0] >= EVIDENCE  # code-like, yet no code
    fd = FrameDecoder(slow_pass_every=3, pass_costs=COSTS)
    calls = counted(fd)
    for _ in range(30):
        assert fd.decode(seen(tiles)) == []
    assert set(calls) == {p.name for p in fd.camera_passes}
    settled = len(calls)
    for _ in range(10):
        assert fd.decode(seen(tiles)) == []
    assert len(calls) == settled
    assert fd.decode(seen(wall(4))) == []  # the scene changed: the fallbacks look again
    assert len(calls) > settled


def test_a_camera_pass_starts_only_when_its_cost_fits_what_is_left_of_the_budget():
    tiles = np.kron((np.random.default_rng(3).random((120, 160)) < 0.5).astype(np.uint8) * 255,
                    np.ones((4, 4), np.uint8))
    costs = {"zxing+global": 0.2, "zxing+sharpen": 0.4, "zxing+smooth": 0.4, "zxing+invert": 0.9,
             "zbar": 0.1}
    fd = FrameDecoder(slow_pass_every=3, slow_pass_ms=0.7, pass_costs=costs)
    # On a whole 640x480 frame inverting never fits beside the global threshold, on a box a quarter of its
    # size it does; passes without a known cost never run, and zbar is for still images whatever it costs.
    assert [p.name for p in fd.camera_passes] == ["zxing+global", "zxing+sharpen", "zxing+smooth", "zxing+invert"]
    assert [p.name for p in fd.fitting()] == ["zxing+global", "zxing+sharpen", "zxing+smooth"]
    assert [p.name for p in fd.fitting(640 * 480 // 4)] == [p.name for p in fd.camera_passes]
    calls = counted(fd)
    assert fd.decode(tiles) == []
    assert calls == ["zxing+global", "zxing+sharpen"]  # smooth would overrun the 0.7 ms: next frame
    assert fd.decode(tiles) == []
    assert calls[2:] == ["zxing+global", "zxing+smooth"]
    # A frame four times the size costs four times as much: only the global threshold still fits.
    big = np.kron(tiles, np.ones((2, 2), np.uint8))
    assert fd.decode(big) == []
    assert calls[4:] == []  # 0.8 ms for the global pass alone on it: nothing fits
    fd.slow_pass_ms = 1.0
    assert fd.decode(np.kron(255 - tiles, np.ones((2, 2), np.uint8))) == []
    assert calls[4:] == ["zxing+global"]


def test_bad_frames_are_input_errors(decoder):
    with pytest.raises(InputError, match="8-bit"):
        decoder.decode(np.zeros((100, 100), np.float32))
    with pytest.raises(InputError, match="grayscale or BGR"):
        decoder.decode(np.zeros((100, 100, 2), np.uint8))
    with pytest.raises(InputError, match="too small"):
        decoder.decode(np.zeros((4, 100), np.uint8))
    with pytest.raises(InputError, match="unknown decoder"):
        FrameDecoder(["quirc"])


def test_read_image_errors_name_the_file(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    with pytest.raises(InputError, match=r"notes\.txt: not an image"):
        read_image(str(bad))
    with pytest.raises(InputError, match="no such file"):
        read_image(str(tmp_path / "missing.png"))
    assert decode_image(np.full((64, 64), 255, np.uint8)) == []


def test_an_image_larger_than_opencv_decodes_is_refused_by_name(tmp_path) -> None:
    # A TIFF (whose size is not read ahead) may claim 100,000 x 100,000 pixels; OpenCV raises for it
    # rather than answering None.
    import struct

    _, buf = cv2.imencode(".tiff", np.full((40, 40), 255, np.uint8))
    data = bytearray(buf.tobytes())
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[ifd:ifd + 2])
    for i in range(count):
        at = ifd + 2 + 12 * i
        (tag,) = struct.unpack(order + "H", data[at:at + 2])
        if tag in (256, 257):  # ImageWidth, ImageLength
            data[at + 2:at + 12] = struct.pack(order + "HII", 4, 1, 100_000)
    path = tmp_path / "huge.tiff"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"huge\.tiff: not an image this build can read \(damaged, or too many"):
        read_image(str(path))
