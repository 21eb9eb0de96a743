"""Image files as 8-bit grayscale pixels, for every reader of still images (`checkpoint decode`,
`check --image`, the `file:` and `dir:` sources, `bench/decode.py`).

- The size a file claims is read from its header (PNG, JPEG, GIF, BMP, WebP) before anything is decoded:
  a 400 KB PNG may hold 20000x20000 pixels, which took a minute and 1.3 GB to read here, so a file over
  `MAX_PIXELS` is refused by name (other formats are checked once decoded; OpenCV's own limit holds there).
- Transparent pixels get a background: white, or black behind light content only (white modules drawn
  on nothing, a dark-mode sticker). OpenCV's grayscale read drops the alpha channel and keeps whatever
  colour the transparent pixels carry, often black, which hid black modules on a transparent background.
- Every frame of an animated GIF, PNG or WebP is read (`read_frames`, for `checkpoint decode` and
  `check --image`, as zbarimg does); the frame sources take the first, as of any image.
- A file over `MAX_FILE_BYTES` is refused unread; pipes are read like files (`/dev/stdin`).
- 16-bit images keep their top 8 bits. EXIF orientation is ignored: polygons are in the file's own grid.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from scanner.errors import InputError

# 64 Mi pixels: a 50-megapixel phone photo (8160x6144) fits; 20000x20000 does not.
MAX_PIXELS = 1 << 26
# A file larger than this is no photo (a 50-megapixel JPEG is about 20 MB): refused before it is read whole.
MAX_FILE_BYTES = 256 << 20
# Of an animation, at most this many frames are read (a screen recording of a code app), and no more
# pixels in all than a 12-megapixel photo holds: every frame gets a still image's every pass, and 64
# frames of 1280x720 noise took 28 s and 420 MB.
MAX_FRAMES = 64
ANIMATION_PIXELS = 12_000_000
# Smaller than this either side, an image cannot hold a QR code (21 modules).
MIN_SIDE = 8
# Of the header, this much is read to find the size (a JPEG's EXIF block comes before its frame header).
_HEAD = 1 << 18


def read_image(path: str) -> np.ndarray:
    """Load an image file (an animation's first frame) as grayscale pixels; raises `InputError` naming
    the file and what is wrong."""
    return read_frames(path, limit=1)[0]


def read_frames(path: str, limit: int = MAX_FRAMES) -> list[np.ndarray]:
    """Every frame of an animated GIF, PNG or WebP (from the first, at most `limit` and `ANIMATION_PIXELS`
    in all) as grayscale pixels; of any other image, the image."""
    import cv2

    raw = _read_file(path)
    head = raw[:_HEAD].tobytes()
    claimed = header_size(head)
    if claimed is not None:
        _check_size(path, *claimed)
    jpeg = head.startswith(b"\xff\xd8")
    # A JPEG has no alpha channel and reads fastest straight to grey; other files keep their alpha.
    flags = cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION if jpeg else cv2.IMREAD_UNCHANGED
    level = cv2.utils.logging.getLogLevel()
    # A damaged file is named in one line of our own; OpenCV's warnings about it would add a second.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        frames: list[np.ndarray] = []
        if limit > 1 and claimed is not None and _animated(head):
            count = max(1, min(limit, ANIMATION_PIXELS // max(1, claimed[0] * claimed[1])))
            ok, mats = cv2.imdecodemulti(raw, cv2.IMREAD_UNCHANGED, None, (0, count))
            frames = list(mats) if ok else []
        if not frames and raw.size:
            img = cv2.imdecode(raw, flags)
            frames = [] if img is None else [img]
        if not frames:
            raise InputError(f"{path}: not an image this build can read")
        out = []
        for img in frames:
            _check_size(path, img.shape[1], img.shape[0])
            out.append(np.ascontiguousarray(img if jpeg else _gray(img, raw, path)))
        return out
    except cv2.error:
        # OpenCV raises, rather than answering None, for a header claiming more pixels than it decodes.
        raise InputError(f"{path}: not an image this build can read (damaged, or too many pixels)") from None
    finally:
        cv2.utils.logging.setLogLevel(level)


def _read_file(path: str) -> np.ndarray:
    try:
        # Read, not mapped or sought: a pipe (`/dev/stdin`) works too, and a huge file is not read whole.
        with open(path, "rb") as f:
            # A regular file says its size: one too large is not read at all.
            size = os.fstat(f.fileno()).st_size
            data = f.read(MAX_FILE_BYTES + 1) if size <= MAX_FILE_BYTES else b""
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    if size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:
        raise InputError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB, more than an image file may hold")
    return np.frombuffer(data, dtype=np.uint8)


def _animated(head: bytes) -> bool:
    """A GIF, an animated PNG (an acTL chunk before the image data) or an animated WebP."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return True
    if head.startswith(b"\x89PNG"):
        actl = head.find(b"acTL")
        return actl >= 0 and (head.find(b"IDAT") < 0 or actl < head.find(b"IDAT"))
    return head.startswith(b"RIFF") and head[12:16] == b"VP8X" and len(head) > 20 and bool(head[20] & 0x02)


def _check_size(path: str, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise InputError(f"{path}: {width}x{height} pixels, more than the {MAX_PIXELS // 1_000_000} "
                         "megapixels a still image may have")
    if min(width, height) < MIN_SIDE:
        raise InputError(f"{path}: {width}x{height} pixels, too small to hold a QR code")


def _gray(img: np.ndarray, raw: np.ndarray, path: str) -> np.ndarray:
    """8-bit grey from whatever `IMREAD_UNCHANGED` gave: depth, channels, transparency."""
    import cv2

    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    channels = 1 if img.ndim == 2 else img.shape[2]
    if img.dtype != np.uint8 or channels not in (1, 3, 4):
        # Floating-point or unusual layouts: OpenCV's own grayscale conversion.
        gray = cv2.imdecode(raw, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION)
        if gray is None:
            raise InputError(f"{path}: not an image this build can read")
        return np.asarray(gray, np.uint8)
    if channels == 1:
        return img
    gray = cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2GRAY)
    if channels == 3:
        return gray
    alpha = img[:, :, 3]
    if int(alpha.min()) == 255:
        return gray
    seen = alpha >= 128
    # Light content on nothing (white modules): a white background would make it vanish.
    back = 0 if seen.any() and float(gray[seen].mean()) > 192 else 255
    a = alpha.astype(np.uint16)
    mixed = (gray.astype(np.uint16) * a + back * (255 - a) + 127) // 255
    return mixed.astype(np.uint8)


def header_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) as the header of a PNG, JPEG, GIF, BMP or WebP file states it; None otherwise."""
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            w, h = struct.unpack(">II", head[16:24])
            return w, h
        if head[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", head[6:10])
            return w, h
        if head.startswith(b"BM"):
            w, h = struct.unpack("<ii", head[18:26])
            return abs(w), abs(h)
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp_size(head)
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(head)
    except struct.error:
        return None  # a header cut short: the decoder says what it makes of the file
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    kind = head[12:16]
    if kind == b"VP8X":
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return w, h
    if kind == b"VP8L":
        (bits,) = struct.unpack("<I", head[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    """The size in a JPEG's frame header (SOFn), walking the segments before it."""
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", head[i + 2:i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", head[i + 5:i + 9])
            return w, h
        i += 2 + length
    return None
