"""The two QR engines behind `scanner.qr.decoder`: zxing-cpp and zbar, QR only, raw bytes, input-pixel corners.

Both check the QR's Reed-Solomon error correction before returning data, and only QR symbols are
enabled, so a misread does not come back as a code. zbar runs with its "binary" option, because it
otherwise re-encodes byte-mode data as UTF-8; where that option is missing only ASCII results (which
the re-encoding leaves alone) are kept. `scanner.qr.decoder` decides which engine and which clean-up pass
runs on which frame.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from keys.jsontypes import JsonObject
from scanner.errors import InputError

log = logging.getLogger(__name__)

Polygon = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]

DECODER_NAMES = ("zxing", "zbar")


@dataclass(frozen=True)
class QrSymbol:
    """One QR code found in a frame."""

    data: bytes
    # None when `data` is not valid UTF-8: such a code is shown and logged, never guessed at.
    text: str | None
    # Corners (top-left, top-right, bottom-right, bottom-left as the decoder saw them), input pixels.
    polygon: Polygon
    # Which pass found it, e.g. "zxing", "zbar", "zxing+clahe": for benchmarks and debugging.
    method: str

    @property
    def center(self) -> tuple[float, float]:
        return (sum(p[0] for p in self.polygon) / 4, sum(p[1] for p in self.polygon) / 4)

    def to_json(self) -> JsonObject:
        import base64

        return {
            "text": self.text,
            "bytes_b64": base64.b64encode(self.data).decode("ascii"),
            "polygon": [[round(x, 1), round(y, 1)] for x, y in self.polygon],
        }


def text_of(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# OpenCV hands a colour conversion of more than about this many pixels to its worker threads.
_SERIAL_PIXELS = 1 << 16


def to_gray(image: np.ndarray, *, serial: bool = False) -> np.ndarray:
    """A contiguous 8-bit grayscale view of a grayscale, BGR or BGRA frame.

    `serial`: convert on the calling thread, in bands of rows each too small for OpenCV to share out
    (the same pixels): a camera frame's conversion then wakes no worker thread, which would spin on
    another core for a while after every frame (see `scanner.qr.decoder`, "Threads")."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"a frame must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"a frame must hold 8-bit pixels, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        gray = image
    elif image.ndim == 3 and image.shape[2] in (3, 4):
        import cv2

        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        if serial:
            gray = np.empty(image.shape[:2], np.uint8)
            rows = max(1, _SERIAL_PIXELS // image.shape[1])
            for y in range(0, image.shape[0], rows):
                cv2.cvtColor(image[y:y + rows], code, dst=gray[y:y + rows])
        else:
            gray = cv2.cvtColor(image, code)
    else:
        raise InputError(f"a frame must be grayscale or BGR, got shape {image.shape}")
    if gray.shape[0] < 8 or gray.shape[1] < 8:
        raise InputError(f"a frame of {gray.shape[1]}x{gray.shape[0]} pixels is too small")
    return np.ascontiguousarray(gray)


def _box(points: Sequence[tuple[float, float]]) -> Polygon:
    """Four corners from whatever point list a decoder gave."""
    if len(points) == 4:
        a, b, c, d = points
        return (a, b, c, d)
    import cv2

    rect = cv2.minAreaRect(np.asarray(points, dtype=np.float32))
    pts = [(float(x), float(y)) for x, y in cv2.boxPoints(rect)]
    return (pts[0], pts[1], pts[2], pts[3])


class ZxingDecoder:
    """zxing-cpp restricted to QR codes; takes `.bytes` because `.text` may reformat the content."""

    name = "zxing"

    def __init__(self) -> None:
        import zxingcpp

        self._zx = zxingcpp
        fmt = zxingcpp.BarcodeFormat
        # 3.x splits "QRCode" into a family; Model 2 is the QR everyone prints. 2.x has only QRCode.
        self._formats: Any = getattr(fmt, "QRCodeModel2", fmt.QRCode)
        self._binarizers = {
            "local": zxingcpp.Binarizer.LocalAverage,
            "global": zxingcpp.Binarizer.GlobalHistogram,
            "fixed": zxingcpp.Binarizer.FixedThreshold,
        }
        # return_errors (zxing-cpp >= 2.3) reports symbols that failed to decode: free evidence of a code.
        try:
            zxingcpp.read_barcodes(np.zeros((8, 8), np.uint8), formats=self._formats, return_errors=True)
            self._errors = True
        except TypeError:
            self._errors = False

    def decode(self, gray: np.ndarray, *, binarizer: str = "local", invert: bool = True,
               downscale: bool = True) -> list[tuple[bytes, Polygon]]:
        return self.scan(gray, binarizer=binarizer, invert=invert, downscale=downscale)[0]

    def scan(self, gray: np.ndarray, *, binarizer: str = "local", invert: bool = True,
             downscale: bool = True) -> tuple[list[tuple[bytes, Polygon]], list[Polygon]]:
        """The codes, and where QR symbols were found that could not be read (a checksum error, say)."""
        extra: dict[str, Any] = {"return_errors": True} if self._errors else {}
        results = self._zx.read_barcodes(gray, formats=self._formats, try_rotate=False,
                                         try_invert=invert, try_downscale=downscale,
                                         binarizer=self._binarizers[binarizer], **extra)
        out = []
        unread: list[Polygon] = []
        for r in results:
            p = r.position
            corners = _box([(float(q.x), float(q.y)) for q in (p.top_left, p.top_right, p.bottom_right,
                                                                p.bottom_left)])
            if not r.valid or not r.bytes:
                unread.append(corners)
            else:
                out.append((bytes(r.bytes), corners))
        return out, unread


class ZbarDecoder:
    """libzbar through pyzbar's ctypes bindings, QR only, raw bytes where the library allows."""

    name = "zbar"
    _QRCODE = 64
    _CFG_ENABLE = 0
    _CFG_BINARY = 4  # zbar >= 0.23; pyzbar's enum predates it.
    _L800 = 808466521  # fourcc "Y800": 8-bit grayscale

    def __init__(self) -> None:
        from pyzbar import wrapper as zw  # raises ImportError when libzbar is missing

        self._zw = zw
        scanner = zw.zbar_image_scanner_create()
        if not scanner:
            raise ImportError("zbar could not create an image scanner")
        self._scanner = scanner
        zw.zbar_image_scanner_set_config(scanner, 0, self._CFG_ENABLE, 0)
        zw.zbar_image_scanner_set_config(scanner, self._QRCODE, self._CFG_ENABLE, 1)
        self.binary = zw.zbar_image_scanner_set_config(scanner, self._QRCODE, self._CFG_BINARY, 1) == 0
        if not self.binary:
            log.warning("this zbar has no binary mode: zbar results other than ASCII are ignored")

    def __del__(self) -> None:
        scanner = getattr(self, "_scanner", None)
        if scanner:
            self._zw.zbar_image_scanner_destroy(scanner)
            self._scanner = None

    def decode(self, gray: np.ndarray) -> list[tuple[bytes, Polygon]]:
        zw = self._zw
        h, w = gray.shape
        pixels = gray.tobytes()
        image = zw.zbar_image_create()
        if not image:
            raise MemoryError("zbar could not create an image")
        out: list[tuple[bytes, Polygon]] = []
        try:
            zw.zbar_image_set_format(image, self._L800)
            zw.zbar_image_set_size(image, w, h)
            data_ptr = ctypes.cast(ctypes.c_char_p(pixels), ctypes.c_void_p)
            zw.zbar_image_set_data(image, data_ptr, len(pixels), None)
            if zw.zbar_scan_image(self._scanner, image) < 0:
                raise RuntimeError("zbar refused the image")
            symbol = zw.zbar_image_first_symbol(image)
            while symbol:
                if symbol.contents.type == self._QRCODE:
                    data = ctypes.string_at(zw.zbar_symbol_get_data(symbol),
                                            zw.zbar_symbol_get_data_length(symbol))
                    points = [(float(zw.zbar_symbol_get_loc_x(symbol, i)),
                               float(zw.zbar_symbol_get_loc_y(symbol, i)))
                              for i in range(zw.zbar_symbol_get_loc_size(symbol))]
                    if data and points and (self.binary or data.isascii()):
                        out.append((data, _box(points)))
                symbol = zw.zbar_symbol_next(symbol)
        finally:
            zw.zbar_image_destroy(image)
        return out
