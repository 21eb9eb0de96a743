"""The decoding passes: zxing-cpp and zbar with image clean-up (smoothing, a global threshold, flattening
glare, sharpening, inversion, contrast normalisation, rescaling), what each is assumed to cost, and the
helpers that run a pass on part of a frame with its results in frame pixels.

`scanner.qr.decoder` decides which pass runs on which frame and where; the engines are in
`scanner.qr.engines`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from scanner.qr.engines import Polygon, QrSymbol, ZbarDecoder, ZxingDecoder, text_of
from scanner.qr.glance import Box


@dataclass(frozen=True)
class Pass:
    """A decoding pass: an optional image transform, a decoder, results mapped back to input pixels.

    `camera` passes take turns on a live camera's frames; the others run on still images only (they
    rescue nothing on the gate corpus, see `bench/decode.py`, but cost little next to reading a file).
    """

    name: str
    run: Callable[[np.ndarray], list[tuple[bytes, Polygon]]]
    camera: bool = True


def scaled(points: Polygon, scale: float) -> Polygon:
    a, b, c, d = ((x / scale, y / scale) for x, y in points)
    return (a, b, c, d)


def build_passes(zx: ZxingDecoder | None, zb: ZbarDecoder | None) -> list[Pass]:
    """The fallbacks, most useful first (see the rescue table of `bench/decode.py`); on a camera the
    first, the cheapest, runs on every frame that needs fallbacks, the others take turns."""
    import cv2

    clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))

    def sharpen(img: np.ndarray) -> np.ndarray:
        blur = cv2.GaussianBlur(img, (0, 0), 2.0)
        return cv2.addWeighted(img, 2.0, blur, -1.0, 0)

    def flatten(img: np.ndarray) -> np.ndarray:
        # A glare spot over part of the code: most gate-corpus frames that no other camera pass reads have
        # one. Less the mean of a 13 px box (3-5 modules at 640 px) the spot's slope is gone and the
        # modules keep their own contrast around mid-grey. A box filter: unlike a Gaussian blur it wakes
        # none of OpenCV's worker threads on a camera-sized image.
        return cv2.addWeighted(img, 1.0, cv2.blur(img, (13, 13)), -1.0, 128)

    def rescale(dec: Callable[[np.ndarray], list[tuple[bytes, Polygon]]], f: float,
                img: np.ndarray) -> list[tuple[bytes, Polygon]]:
        if f > 1 and max(img.shape) * f > 2600:
            return []  # already large enough; upscaling a big frame costs much and finds nothing
        if f < 1 and min(img.shape) * f < 100:
            return []
        interp = cv2.INTER_CUBIC if f > 1 else cv2.INTER_AREA
        small = cv2.resize(img, None, fx=f, fy=f, interpolation=interp)
        return [(d, scaled(p, f)) for d, p in dec(small)]

    passes: list[Pass] = []
    if zx is not None:
        z = zx
        passes += [
            # Uneven light and glare: one threshold for the whole frame copes where local ones do not.
            Pass("zxing+global", lambda img: z.decode(img, binarizer="global")),
            # Glare over part of the code (see `flatten`): upright and full-size only, to stay cheap.
            Pass("zxing+flatten", lambda img: z.decode(flatten(img), invert=False, downscale=False)),
            # Blur and small modules.
            Pass("zxing+sharpen", lambda img: z.decode(sharpen(img))),
            # Sensor noise and the moiré of a photographed screen: smooth before binarizing.
            Pass("zxing+smooth", lambda img: z.decode(cv2.GaussianBlur(img, (0, 0), 1.0))),
            # Dark-mode screens (light modules on dark), which the fast pass leaves out.
            Pass("zxing+invert", lambda img: z.decode(255 - img, invert=False)),
            # Low contrast with small modules: local contrast, then twice the pixels. Dear, so later.
            Pass("zxing+clahe+upscale", lambda img: rescale(z.decode, 2.0, clahe.apply(img))),
            Pass("zxing+upscale", lambda img: rescale(z.decode, 2.0, img)),
            Pass("zxing+clahe", lambda img: z.decode(clahe.apply(img))),
            Pass("zxing+area", lambda img: rescale(z.decode, 0.5, img)),
        ]
    if zb is not None:
        b = zb
        # zbar costs tens of ms and, on the gate corpus, reads nothing zxing's passes miss: stills only.
        passes.append(Pass("zbar", b.decode, camera=False))
        passes.append(Pass("zbar+clahe", lambda img: b.decode(clahe.apply(img)), camera=False))
    if zx is not None:
        # zxing-cpp's own full search (inverted and downscaled copies), for large photos.
        passes.append(Pass("zxing+full", zx.decode, camera=False))
    return passes


def dedupe(found: list[QrSymbol]) -> list[QrSymbol]:
    """Drop the same code reported twice at the same place (e.g. by two binarizations)."""
    out: list[QrSymbol] = []
    for code in found:
        cx, cy = code.center
        size = max(abs(code.polygon[0][0] - code.polygon[2][0]), abs(code.polygon[0][1] - code.polygon[2][1]))
        if not any(o.data == code.data and abs(o.center[0] - cx) + abs(o.center[1] - cy) < max(size, 8)
                   for o in out):
            out.append(code)
    return out


def reading_order(found: list[QrSymbol]) -> list[QrSymbol]:
    """Codes in rows top to bottom, left to right in a row, whichever pass read them (still images).

    A row is the highest code left and every code whose centre lies above that code's lowest corner:
    codes side by side stay in one row when a photo tilts them a little.
    """
    rest = sorted(found, key=lambda c: (c.center[1], c.center[0]))
    out: list[QrSymbol] = []
    while rest:
        bottom = max(y for _, y in rest[0].polygon)
        row = [c for c in rest if c.center[1] <= bottom]
        out += sorted(row, key=lambda c: c.center[0])
        rest = [c for c in rest if c.center[1] > bottom]
    return out


# What each pass costs on a 640x480 frame, in ms, on the reference machine (`bench/decode.py` prints
# this table, measured, and how far the figures in use are from it). A camera pass starts only when its
# cost fits what is left of the frame's budget, so no wall clock decides which pass runs: the same frames
# get the same passes on an idle machine and on a loaded one. Costs scale with the frame's pixel count.
REFERENCE_PIXELS = 640 * 480
# Frames smaller than this (either side, pixels) are never halved: a code in them has few pixels to spare.
HALVED_MIN = 240
PASS_COST_MS: Mapping[str, float] = {
    "zxing": 0.60,
    "zxing+global": 0.25,
    "zxing+flatten": 1.3,
    "zxing+sharpen": 2.0,
    "zxing+smooth": 1.15,
    "zxing+invert": 0.75,
    "zxing+area": 0.12,
    "zxing+upscale": 9.6,
    "zxing+clahe": 7.5,
    "zxing+clahe+upscale": 13.6,
    "zbar": 23.0,
    "zbar+clahe": 30.0,
    "zxing+full": 3.7,
}


def halved(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """`gray` at half its resolution (each pixel the mean of 2x2) and that scale; small frames as they are."""
    import cv2

    h, w = gray.shape
    if min(h, w) < HALVED_MIN:
        return gray, 1.0
    return cv2.resize(gray[:h // 2 * 2, :w // 2 * 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA), 0.5


def crop(gray: np.ndarray, box: Box) -> np.ndarray:
    """The part of `gray` inside `box`: a view (zxing-cpp and OpenCV both take its row stride)."""
    x0, y0, x1, y1 = box
    return gray[y0:y1, x0:x1]


def shift(points: Polygon, dx: float, dy: float) -> Polygon:
    a, b, c, d = ((x + dx, y + dy) for x, y in points)
    return (a, b, c, d)


def read_box(p: Pass, gray: np.ndarray, box: Box) -> list[QrSymbol]:
    """`p` on the part of `gray` inside `box`, the codes' corners in frame pixels."""
    x0, y0 = box[0], box[1]
    return dedupe([QrSymbol(data, text_of(data), shift(poly, x0, y0), p.name)
                    for data, poly in p.run(crop(gray, box))])
