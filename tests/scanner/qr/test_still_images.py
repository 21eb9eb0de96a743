"""Image files as they come from phones and QR generators: transparency, depth, sizes their headers claim."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from scanner.errors import InputError
from scanner.qr.decoder import decode_image, read_image
from scanner.qr.stills import header_size
from scanner.sources.synthetic import render_qr

PAYLOAD = "HCC1:STILL-IMAGE-TEST-0001"


def _texts(path) -> list[str | None]:
    return [c.text for c in decode_image(read_image(str(path)))]


def test_black_modules_on_a_transparent_background_decode(tmp_path):
    # Generators often store transparent pixels as (0, 0, 0, 0): read as grey, the code would be all black.
    code = render_qr(PAYLOAD, module_px=6)
    bgra = np.zeros((*code.shape, 4), np.uint8)
    bgra[:, :, 3] = np.where(code == 0, 255, 0)
    cv2.imwrite(str(tmp_path / "sticker.png"), bgra)
    assert _texts(tmp_path / "sticker.png") == [PAYLOAD]


def test_white_modules_on_a_transparent_background_decode(tmp_path):
    # A dark-mode sticker: only the light modules are drawn. A white background would hide them.
    code = render_qr(PAYLOAD, module_px=6)
    bgra = np.zeros((*code.shape, 4), np.uint8)
    bgra[:, :, :3] = 255
    bgra[:, :, 3] = np.where(code == 0, 255, 0)
    cv2.imwrite(str(tmp_path / "darkmode.png"), bgra)
    assert _texts(tmp_path / "darkmode.png") == [PAYLOAD]


def test_half_transparent_code_and_16_bit_png_decode(tmp_path):
    code = render_qr(PAYLOAD, module_px=6)
    bgra = cv2.cvtColor(code, cv2.COLOR_GRAY2BGRA)
    bgra[:, :, 3] = 200
    cv2.imwrite(str(tmp_path / "faded.png"), bgra)
    cv2.imwrite(str(tmp_path / "deep.png"), code.astype(np.uint16) * 257)
    assert _texts(tmp_path / "faded.png") == [PAYLOAD]
    assert _texts(tmp_path / "deep.png") == [PAYLOAD]
    assert read_image(str(tmp_path / "deep.png")).dtype == np.uint8


@pytest.mark.parametrize("ext", [".png", ".jpg", ".gif", ".bmp", ".webp"])
def test_header_size_matches_what_opencv_writes(ext):
    img = cv2.cvtColor(render_qr(PAYLOAD, module_px=3)[:, :-5], cv2.COLOR_GRAY2BGR)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    assert header_size(buf.tobytes()) == (img.shape[1], img.shape[0])


def _claiming(ext: str, width: int, height: int) -> bytes:
    """A real file written by OpenCV, its header then made to claim `width` x `height`."""
    _, buf = cv2.imencode(ext, cv2.cvtColor(render_qr(PAYLOAD, module_px=2), cv2.COLOR_GRAY2BGR))
    data = bytearray(buf.tobytes())
    if ext == ".png":
        data[16:24] = struct.pack(">II", width, height)
    elif ext == ".gif":
        data[6:10] = struct.pack("<HH", width, height)
    elif ext == ".bmp":
        data[18:26] = struct.pack("<ii", width, height)
    elif ext == ".webp":
        assert data[12:16] == b"VP8L"  # lossless: OpenCV's default quality
        (bits,) = struct.unpack("<I", data[21:25])
        data[21:25] = struct.pack("<I", (bits & ~0xFFFFFFF) | (width - 1) | (height - 1) << 14)
    else:
        i = 2
        while data[i + 1] not in (0xC0, 0xC1, 0xC2):
            i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
        data[i + 5:i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".gif", ".bmp", ".webp"])
def test_a_file_claiming_too_many_pixels_is_refused_before_decoding(tmp_path, ext):
    # 20000 x 20000 fits in a 400 KB PNG and took a minute and 1.3 GB to read.
    side = 16383 if ext == ".webp" else 20000
    path = tmp_path / f"bomb{ext}"
    path.write_bytes(_claiming(ext, side, side))
    with pytest.raises(InputError, match=rf"bomb\{ext}: {side}x{side} pixels, more than the 67 megapixels"):
        read_image(str(path))


def test_an_image_too_small_for_a_code_is_named(tmp_path):
    cv2.imwrite(str(tmp_path / "dot.png"), np.zeros((1, 1), np.uint8))
    with pytest.raises(InputError, match=r"dot\.png: 1x1 pixels, too small to hold a QR code"):
        read_image(str(tmp_path / "dot.png"))


def test_a_cut_short_file_is_named_without_opencv_warnings(tmp_path, capfd):
    _, buf = cv2.imencode(".png", render_qr(PAYLOAD, module_px=4))
    (tmp_path / "cut.png").write_bytes(buf.tobytes()[:buf.size // 2])
    with pytest.raises(InputError, match=r"cut\.png: not an image this build can read"):
        read_image(str(tmp_path / "cut.png"))
    assert capfd.readouterr().err == ""


def test_a_dark_mode_code_beside_printed_ones_is_read(tmp_path):
    # A family's codes photographed together: printed cards and a phone in dark mode. The fast pass reads
    # dark modules on light only, and the inverted code gives the glance no patch it calls code-like.
    photo = np.full((700, 1200), 255, np.uint8)
    texts = ["HCC1:CARD-A", "HCC1:PHONE-DARK", "HCC1:CARD-C", "HCC1:CARD-D"]
    for (x, y), text in zip([(50, 50), (450, 50), (850, 50), (50, 400)], texts, strict=True):
        code = render_qr(text, module_px=5)
        photo[y:y + code.shape[0], x:x + code.shape[1]] = 255 - code if "DARK" in text else code
    cv2.imwrite(str(tmp_path / "family.png"), photo)
    assert sorted(_texts(tmp_path / "family.png")) == sorted(texts)


def test_an_image_read_from_a_pipe_decodes(tmp_path):
    # `cat photo.png | checkpoint decode /dev/stdin`: a pipe cannot seek, which numpy's file reader needs.
    import os
    import threading

    _, buf = cv2.imencode(".png", render_qr(PAYLOAD, module_px=4))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(buf.tobytes())

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert _texts(fifo) == [PAYLOAD]
    finally:
        writer.join(timeout=10)


def test_a_file_larger_than_any_image_is_refused_unread(tmp_path, monkeypatch):
    import scanner.qr.stills as stills

    monkeypatch.setattr(stills, "MAX_FILE_BYTES", 1 << 20)
    big = tmp_path / "film.jpg"
    with open(big, "wb") as f:
        f.truncate(2 << 20)
    with pytest.raises(InputError, match=r"film\.jpg: larger than 1 MiB, more than an image file may hold"):
        read_image(str(big))


def test_several_codes_come_in_reading_order_whichever_pass_read_them(tmp_path):
    # Rows top to bottom, left to right within a row (a code a little higher than its neighbour is still
    # in its row), the same for the PNG and a JPEG of it, and whether the fast pass or a fallback read it.
    photo = np.full((760, 1240), 255, np.uint8)
    spots = {"HCC1:ROW1-LEFT": (40, 70), "HCC1:ROW1-MIDDLE": (440, 40), "HCC1:ROW1-RIGHT": (840, 60),
             "HCC1:ROW2-LEFT": (60, 420), "HCC1:ROW2-RIGHT": (700, 400)}
    for text, (x, y) in spots.items():
        code = render_qr(text, module_px=5)
        photo[y:y + code.shape[0], x:x + code.shape[1]] = 255 - code if "MIDDLE" in text else code
    cv2.imwrite(str(tmp_path / "rows.png"), photo)
    cv2.imwrite(str(tmp_path / "rows.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert _texts(tmp_path / "rows.png") == list(spots)
    assert _texts(tmp_path / "rows.jpg") == list(spots)


@pytest.mark.parametrize("ext", [".gif", ".png", ".webp"])
def test_every_frame_of_an_animation_is_read(tmp_path, ext):
    # A screen recording of a code app: the code shows from the second frame on, a new one in the third.
    from scanner.qr.decoder import decode_file

    def frame(text: str | None) -> np.ndarray:
        canvas = np.full((240, 240, 3), 255, np.uint8)
        if text:
            code = render_qr(text, module_px=4)
            canvas[10:10 + code.shape[0], 10:10 + code.shape[1]] = code[:, :, None]
        return canvas

    film = cv2.Animation()
    film.frames = [frame(None), frame(PAYLOAD), frame("HCC1:REFRESHED-CODE"), frame(PAYLOAD)]
    film.durations = [100, 100, 100, 100]
    path = tmp_path / f"recording{ext}"
    assert cv2.imwriteanimation(str(path), film)
    assert [c.text for c in decode_file(str(path))] == [PAYLOAD, "HCC1:REFRESHED-CODE"]
    # The file and dir sources take the first frame, as from any image.
    assert decode_image(read_image(str(path))) == []
