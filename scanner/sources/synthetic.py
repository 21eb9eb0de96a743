"""Synthetic camera frames: QR codes on phones and cards held up at a gate, rendered from pixels.

Used by `SyntheticSource` (demo, tests without a camera), the decoding tests and the benchmark corpus
(`bench/corpus.py`). Each frame comes with the true corner polygon of every code in it, so a test can
check positions as well as contents. Everything is drawn from a seeded `numpy` generator: the same seed
gives the same frames.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scanner.errors import InputError
from scanner.sources.base import Frame, Pacer

Point = tuple[float, float]


@dataclass(frozen=True)
class PlacedCode:
    """A code drawn into a frame: its payload and its corners (TL, TR, BR, BL) in frame pixels."""

    payload: str
    polygon: tuple[Point, Point, Point, Point]


@dataclass(frozen=True)
class Distortion:
    """How hard a scene is: ranges the generator draws from. The defaults are a phone at a gate."""

    module_px: tuple[float, float] = (2.4, 5.0)  # QR module size in frame pixels, at 640 px width
    angle: float = 35.0  # in-plane rotation, degrees either way
    tilt: float = 0.10  # perspective: corner jitter as a fraction of the code size
    blur: tuple[float, float] = (0.0, 0.35)  # Gaussian sigma, in modules
    noise: tuple[float, float] = (1.0, 9.0)  # sensor noise sigma, grey levels
    contrast: tuple[float, float] = (0.35, 1.0)  # (white - black) / 255 on the screen
    glare: float = 0.3  # probability of a glare spot on a code
    inverted: float = 0.05  # probability of a dark-mode (light on dark) code
    jpeg: float = 0.3  # probability of JPEG artefacts


def is_alphanumeric(text: str) -> bool:
    return all(c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:" for c in text)


@functools.lru_cache(maxsize=256)
def qr_modules(payload: str | bytes, error: str = "m") -> np.ndarray:
    """The module matrix (1 = dark) of `payload`, alphanumeric mode when the text allows it (read-only).

    Remembered: scenes draw the same few payloads again and again, and choosing the mask is most of
    what drawing a gate frame costs (about 85 ms of a frame's 95 without this)."""
    import segno

    mode = "alphanumeric" if isinstance(payload, str) and is_alphanumeric(payload) else "byte"
    qr = segno.make(payload, mode=mode, error=error, micro=False, boost_error=False)
    modules = np.array(qr.matrix, dtype=np.uint8)
    modules.flags.writeable = False
    return modules


def render_qr(payload: str | bytes, *, module_px: int = 4, border: int = 4) -> np.ndarray:
    """A clean grayscale QR image (black on white) with a quiet zone of `border` modules."""
    m = np.pad(qr_modules(payload), border)
    img = np.where(m == 1, 0, 255).astype(np.uint8)
    return np.kron(img, np.ones((module_px, module_px), dtype=np.uint8))


def background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A cluttered, unevenly lit scene: smooth blotches, a few hard-edged shapes and lines."""
    import cv2

    coarse = rng.uniform(30, 200, size=(max(2, height // 60), max(2, width // 60))).astype(np.float32)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 9))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(20, width // 3)), int(rng.integers(20, height // 3))
        cv2.rectangle(img, (x, y), (x + w, y + h), float(rng.uniform(0, 255)), -1)
    for _ in range(int(rng.integers(2, 8))):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(img, p1, p2, float(rng.uniform(0, 255)), int(rng.integers(1, 6)))
    return np.clip(img, 0, 255)


def _quad(rng: np.random.Generator, cx: float, cy: float, side: float, d: Distortion) -> np.ndarray:
    a = math.radians(rng.uniform(-d.angle, d.angle))
    half = side / 2
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]], dtype=np.float32)
    corners += rng.uniform(-d.tilt, d.tilt, size=(4, 2)).astype(np.float32) * side
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=np.float32)
    return corners @ rot.T + np.array([cx, cy], dtype=np.float32)


def _draw_code(rng: np.random.Generator, frame: np.ndarray, payload: str, cx: float, cy: float,
               module: float, d: Distortion) -> PlacedCode:
    import cv2

    modules = qr_modules(payload)
    n = modules.shape[0]
    inverted = rng.random() < d.inverted
    contrast = rng.uniform(*d.contrast)
    white = rng.uniform(150 + 105 * contrast, 255) if not inverted else rng.uniform(0, 60)
    black = white - 255 * contrast if not inverted else white + 255 * contrast
    # The code with a 4-module quiet zone, on a screen with a margin, in a dark bezel.
    ppm = 6  # pixels per module in the source raster, warped down to `module` in the frame
    screen = 4 + 1
    grid = np.pad(modules, screen)
    src = np.where(grid == 1, black, white).astype(np.float32)
    src = np.kron(src, np.ones((ppm, ppm), dtype=np.float32))
    bezel = 3 * ppm
    src = np.pad(src, bezel, constant_values=float(rng.uniform(5, 50)))
    size = src.shape[0]
    side = (size / ppm) * module
    dst = _quad(rng, cx, cy, side, d)
    src_corners = np.array([[0, 0], [size, 0], [size, size], [0, size]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src_corners, dst)
    h, w = frame.shape
    warped = cv2.warpPerspective(src, m, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones_like(src), m, (w, h), flags=cv2.INTER_LINEAR)
    frame *= 1 - mask
    frame += warped * mask
    if rng.random() < d.glare:
        # A soft highlight over part of the code, saturating the pixels under it.
        gx, gy = cx + rng.uniform(-0.3, 0.3) * side, cy + rng.uniform(-0.3, 0.3) * side
        r = rng.uniform(0.05, 0.12) * side
        yy, xx = np.ogrid[:h, :w]
        spot = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * r * r)).astype(np.float32)
        frame += spot * float(rng.uniform(120, 260))
    lo, hi = (bezel + screen * ppm), (bezel + (screen + n) * ppm)
    code_corners = np.array([[[lo, lo], [hi, lo], [hi, hi], [lo, hi]]], dtype=np.float32)
    pts = cv2.perspectiveTransform(code_corners, m)[0]
    poly = tuple((float(x), float(y)) for x, y in pts)
    return PlacedCode(payload, (poly[0], poly[1], poly[2], poly[3]))


def gate_frame(rng: np.random.Generator, payloads: list[str], width: int = 640, height: int = 480,
               distortion: Distortion | None = None) -> tuple[np.ndarray, list[PlacedCode]]:
    """A grayscale frame showing `payloads` (side by side, none overlapping) and their true corners."""
    import cv2

    d = distortion or Distortion()
    frame: np.ndarray = background(rng, width, height).astype(np.float32)
    placed: list[PlacedCode] = []
    # Several codes (a parent showing the family's) sit in a grid, one per cell, none overlapping.
    cols = max(1, min(len(payloads), 2 if width < 1000 else 3))
    rows = max(1, math.ceil(len(payloads) / cols))
    cell_w, cell_h = width / cols, height / rows
    smallest = 3.0
    for i, payload in enumerate(payloads):
        n = qr_modules(payload).shape[0] + 2 * 8  # code + quiet zone + screen margin + bezel
        module = rng.uniform(*d.module_px) * width / 640
        # Keep the phone (rotated, tilted) inside its cell.
        module = min(module, min(cell_w, cell_h) / (n * 1.45))
        smallest = module if i == 0 else min(smallest, module)
        reach = n * module * 0.72
        x0, y0 = cell_w * (i % cols), cell_h * (i // cols)
        cx = x0 + cell_w / 2 + rng.uniform(-1, 1) * max(0.0, cell_w / 2 - reach)
        cy = y0 + cell_h / 2 + rng.uniform(-1, 1) * max(0.0, cell_h / 2 - reach)
        placed.append(_draw_code(rng, frame, payload, cx, cy, module, d))
    sigma = rng.uniform(*d.blur) * smallest
    if sigma > 0.2:
        frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    frame += rng.normal(0, rng.uniform(*d.noise), size=frame.shape).astype(np.float32)
    out = np.clip(frame, 0, 255).astype(np.uint8)
    if rng.random() < d.jpeg:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 90))])
        decoded = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else None
        if decoded is not None:
            out = decoded
    return out, placed


def empty_frame(rng: np.random.Generator, width: int = 640, height: int = 480) -> np.ndarray:
    """A frame with no code: the same clutter, blur and noise as `gate_frame`."""
    import cv2

    frame: np.ndarray = background(rng, width, height).astype(np.float32)
    frame = cv2.GaussianBlur(frame, (0, 0), float(rng.uniform(0.3, 1.2)))
    frame += rng.normal(0, rng.uniform(1, 9), size=frame.shape).astype(np.float32)
    return np.clip(frame, 0, 255).astype(np.uint8)


class SyntheticSource:
    """Rendered gate scenes for the demo and tests: each payload in turn is held up for `show_frames`
    frames (drifting, with fresh sensor noise every frame), then `gap_frames` frames show no code.

    Deterministic for a given `seed`. `frames` ends the source after that many frames (None: forever,
    cycling through the payloads). `fps` paces it like a camera.
    """

    def __init__(self, payloads: Sequence[str | Sequence[str]], *, width: int = 640, height: int = 480,
                 fps: float | None = 30, show_frames: int = 30, gap_frames: int = 15, frames: int | None = None,
                 seed: int = 0, distortion: Distortion | None = None):
        if not payloads:
            raise InputError("a synthetic source needs at least one payload")
        self.name = "synthetic"
        self.live = fps is not None
        self.width, self.height = width, height
        self.scenes = [[p] if isinstance(p, str) else list(p) for p in payloads]
        self.show_frames, self.gap_frames, self.frames = show_frames, gap_frames, frames
        self.seed = seed
        self.distortion = distortion
        self._pacer = Pacer(fps)
        self._index = 0
        self._cache: dict[int, np.ndarray] = {}
        self._rng = np.random.default_rng(seed)

    def scene_at(self, index: int) -> list[str]:
        """The payloads visible in frame `index` (0-based): what a test expects to be decoded."""
        period = self.show_frames + self.gap_frames
        if index % period >= self.show_frames:
            return []
        return self.scenes[(index // period) % len(self.scenes)]

    def open(self) -> None:
        self._pacer.reset()

    def read(self) -> Frame | None:
        if self.frames is not None and self._index >= self.frames:
            return None
        image = self.image(self._index)
        if not self._pacer.wait():
            return None
        frame = Frame(image, time.monotonic(), self._index, self.name)
        self._index += 1
        return frame

    def image(self, index: int) -> np.ndarray:
        """Frame `index`'s pixels: the scene's placement is fixed by the seed, the sensor noise is fresh."""
        import cv2

        period = self.show_frames + self.gap_frames
        showing = index // period
        base = self._cache.get(showing if self.scene_at(index) else -1 - showing)
        if base is None:
            rng = np.random.default_rng((self.seed, showing))
            if self.scene_at(index):
                base, _ = gate_frame(rng, self.scene_at(index), self.width, self.height, self.distortion)
                self._cache = {showing: base}
            else:
                base = empty_frame(rng, self.width, self.height)
                self._cache = {-1 - showing: base}
        # The phone drifts a little, and the sensor adds its own noise to every frame.
        t = index % period
        shift = np.array([[1, 0, 3 * np.sin(t / 7)], [0, 1, 2 * np.cos(t / 5)]], dtype=np.float32)
        moved = cv2.warpAffine(base, shift, (self.width, self.height), borderMode=cv2.BORDER_REPLICATE)
        noise = self._rng.normal(0, 3, size=moved.shape)
        return np.clip(moved + noise, 0, 255).astype(np.uint8)

    def close(self) -> None:
        self._pacer.stop()
