"""QR decoding from camera frames: zxing-cpp first, zbar and image-clean-up passes as fallbacks.

A frame is a grayscale (the camera's Y plane) or BGR numpy array. The result is every QR code in the
frame, each with its raw bytes, its text (None when the bytes are not UTF-8) and its corner polygon in
the frame's own pixel coordinates.

Why this order: zxing-cpp decodes more and faster than zbar (about 0.5 ms on a cluttered 640x480 frame, zbar
about 9 ms, both measured by `bench/decode.py`). The fallbacks (smoothing, a global threshold, flattening a
glare spot, sharpening, inversion, contrast normalisation, upscaling, zbar) cost up to several ms each, and
even zxing costs more than an idle gate should, so on a camera a `FrameDecoder` first glances at the frame
for code-like patches (about 0.1 ms, `scanner.qr.glance`): without one it reads the frame at half its
resolution with one global threshold (about 0.1 ms; a local threshold on every Nth frame, the fast pass on
the whole frame on every third of those); with some, a global-threshold read of the box around them
(upright, then inverted when it finds no symbol at all), the fast pass following there only when that fails.
The fallbacks, a few per frame in turn, are spent only on evidence of a code not read yet, and only on the
box around that evidence.
Still images get every pass while a code may be missing. Reading the symbol itself (sampling its grid,
correcting errors) is about three quarters of what a box read costs, so a tighter box or a downscaled
copy of it would save little.

Threads: a frame's work stays on the calling thread (the camera worker's), beside the camera's and the
UI's. A colour frame is converted to grey in bands of rows too small for OpenCV to share out: converted
whole, each frame would wake OpenCV's worker pool, whose worker then spins on another core. Measured on
a 2-vCPU VM with 640x480 BGR frames 5 ms apart, in 8 interleaved rounds: the process's other threads
spend 0.01 ms of CPU per frame against 0.49 ms converted whole, and the decoding thread's own time is
the same (median ratio 1.00); pinned to one core nothing changes. The glance and the box reads run no
OpenCV parallel loop (the glance's clusters are flood fills for that reason); only the Gaussian blur of
two fallback passes (sharpen, smooth: about 1 frame with a code in 100) still wakes the pool. The
process keeps OpenCV's default thread count (still images use it): on grey frames the decoder's cost
against zxing-cpp alone is the same (0.68-0.71x) with the default pool, with one thread, and pinned to
either core.

The engines themselves (and why a misread never comes back as a code) are in `scanner.qr.engines`, the
passes and their assumed costs in `scanner.qr.passes`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from scanner.errors import InputError
from scanner.qr.engines import DECODER_NAMES, Polygon, QrSymbol, ZbarDecoder, ZxingDecoder, text_of, to_gray
from scanner.qr.glance import EVIDENCE, code_evidence, glance
from scanner.qr.passes import (
    PASS_COST_MS,
    REFERENCE_PIXELS,
    Pass,
    build_passes,
    crop,
    dedupe,
    halved,
    read_box,
    reading_order,
    scaled,
    shift,
)
from scanner.qr.stills import read_frames, read_image

log = logging.getLogger(__name__)

# Of the Nth frames with nothing code-like, every this many get the fast pass on the whole frame at full
# resolution (about 1 ms on 640x480), the others a local-threshold read at half the resolution (about
# 0.15 ms): what only the full read finds (a code a few modules wider than a patch, a dim screen with
# module edges below the glance's threshold) is read within 9 frames instead of 3 at N = 3.
_BLIND_EVERY = 3

__all__ = [
    "DECODER_NAMES",
    "EVIDENCE",
    "PASS_COST_MS",
    "REFERENCE_PIXELS",
    "FrameDecoder",
    "Pass",
    "Polygon",
    "QrSymbol",
    "code_evidence",
    "decode_file",
    "decode_image",
    "read_image",
    "to_gray",
]


class FrameDecoder:
    """Decodes frames with the configured decoders; stateful only for the turns of the fallback passes.

    Not thread-safe: give each worker thread its own. `decoders` names the decoders to use, in order
    (`"zxing"`, `"zbar"`). On a camera the work follows the evidence of a code (`scanner.qr.glance`),
    so that an empty gate costs a glance per frame and a code costs a read of the box around it:
    - a frame with code-like patches gets, on the box around each cluster of them (a phone), a
      global-threshold read (of the inverted box too when it finds no symbol at all: a dark-mode
      screen) and, if that reads nothing or sees a symbol it cannot read, the fast pass;
    - a frame without one gets a global-threshold read at half resolution (a clean code in even
      light needs no more); every Nth (`slow_pass_every`) frame a local-threshold one instead, and
      every third Nth frame the fast pass on the whole frame, in case;
    - fallback passes follow where a code may be missing, on the box around it: code-like patches no
      code read covers (nothing read yet, or a second phone beside one read), or a symbol zxing saw but
      could not read; and blindly on the whole of every 30th Nth frame. The global-threshold pass runs
      first, the others take turns, each only if its cost (`pass_costs`, ms per 640x480 frame, scaled
      by the box's pixels) fits what is left of `slow_pass_ms`. A new scene starts the turns from the
      most useful pass; a scene every fitting pass has already searched in vain rests until it changes.
    """

    def __init__(self, decoders: Sequence[str] = DECODER_NAMES, *, slow_pass_every: int = 3,
                 slow_pass_ms: float = 1.0, fallbacks: bool = True,
                 pass_costs: Mapping[str, float] | None = None):
        unknown = [d for d in decoders if d not in DECODER_NAMES]
        if unknown:
            raise InputError(f"unknown decoder {unknown[0]!r}; known: {', '.join(DECODER_NAMES)}")
        if not decoders:
            raise InputError("no decoder configured")
        if slow_pass_every < 1:
            raise InputError(f"slow_pass_every must be at least 1, got {slow_pass_every}")
        if not slow_pass_ms >= 0:
            raise InputError(f"slow_pass_ms must be 0 or more, got {slow_pass_ms}")
        self.slow_pass_every = slow_pass_every
        self._zx = ZxingDecoder() if "zxing" in decoders else None
        self._zb: ZbarDecoder | None = None
        if "zbar" in decoders:
            try:
                self._zb = ZbarDecoder()
            except (ImportError, OSError) as e:
                log.warning("zbar is not available, decoding without it: %s", e)
        self._fast: Callable[[np.ndarray], tuple[list[tuple[bytes, Polygon]], list[Polygon]]]
        if self._zx is not None:
            z = self._zx
            # The fast pass: no inversion and, on camera-sized frames, no downscaled copies: each
            # would double the cost of every empty frame. Fallback passes cover both.
            self._fast = lambda img: z.scan(img, invert=False, downscale=max(img.shape) > 1000)
            first = "zxing"
        elif self._zb is not None:
            b = self._zb
            self._fast, first = (lambda img: (b.decode(img), [])), "zbar"
        else:
            raise InputError("none of the configured decoders is available")
        self._first = Pass(first, lambda img: self._fast(img)[0])
        passes = build_passes(self._zx, self._zb) if fallbacks else []
        self.passes = [p for p in passes if p.name != first]
        self.slow_pass_ms = slow_pass_ms
        # A pass missing from the table has an unknown cost: it never runs on a camera.
        self.pass_costs = dict(PASS_COST_MS if pass_costs is None else pass_costs)
        # The passes a camera may run, most useful first: on a box small enough, even a dear one fits.
        self.camera_passes = [p for p in self.passes if p.camera and p.name in self.pass_costs]
        self._frames = 0
        self._next_pass = 0
        # The patches of the scene the fallbacks last searched in vain, and how many passes it has had.
        self._idle: np.ndarray | None = None
        self._idle_passes = 0

    def cost(self, p: Pass, pixels: int = REFERENCE_PIXELS) -> float:
        """What `p` is expected to cost on a frame of `pixels` pixels, in ms (infinite when unknown)."""
        return self.pass_costs.get(p.name, math.inf) * pixels / REFERENCE_PIXELS

    def fitting(self, pixels: int = REFERENCE_PIXELS) -> list[Pass]:
        """The camera passes the budget can hold on `pixels` pixels: the first, and each other one after it."""
        passes = self.camera_passes
        if not passes or self.cost(passes[0], pixels) > self.slow_pass_ms:
            return []
        rest = self.slow_pass_ms - self.cost(passes[0], pixels)
        return [passes[0]] + [p for p in passes[1:] if self.cost(p, pixels) <= rest]

    def decode(self, image: np.ndarray, *, thorough: bool | None = None) -> list[QrSymbol]:
        """Every QR code in `image`.

        None (the camera case): the fast pass, and on evidence of a code the next fallbacks in turn
        (see the class). True (still images): the fast pass (upright and, when it read a code, on the
        inverted image), then, while a code may be missing (nothing read, a symbol seen but not read, or
        code-like patches no code read covers), every pass, results merged, so a second code that only
        a fallback can read is not missed next to an easy one; the codes in reading order (rows top to
        bottom, left to right). False: the fast pass only.
        """
        gray = to_gray(image, serial=thorough is None)
        if thorough is None:
            return self._camera(gray)
        raw, unread = self._fast(gray)
        found = dedupe([QrSymbol(data, text_of(data), poly, self._first.name) for data, poly in raw])
        if thorough and found and self._zx is not None:
            # The fast pass reads dark modules on light only, and beside the codes it read a dark-mode
            # screen's may give the glance no code-like patch (modules narrower than its sampling): one
            # read of the inverted image, the fast pass's cost, finds it.
            inverted = self._zx.decode(255 - gray, invert=False, downscale=max(gray.shape) > 1000)
            found = dedupe(found + [QrSymbol(data, text_of(data), poly, "zxing+invert") for data, poly in inverted])
        # Codes the fast pass read, with no other symbol seen and nothing else code-like, are the image.
        if thorough and (not found or unread or glance(gray).regions(exclude=[c.polygon for c in found])):
            for p in self.passes:
                found = dedupe(found + self._run(p, gray))
        return reading_order(found) if thorough else found

    def _camera(self, gray: np.ndarray) -> list[QrSymbol]:
        self._frames += 1
        due = self._frames % self.slow_pass_every == 0
        look = glance(gray)
        unread: list[Polygon] = []
        blind = due and self._frames % (self.slow_pass_every * _BLIND_EVERY) == 0
        if look.score < EVIDENCE and not blind and self._zx is not None:
            # Nothing code-like: one global threshold, a fraction of the fast pass's cost, reads a clean
            # code in even light (a printed card, a phone at full brightness, dark mode too) all the
            # same; on every Nth frame the local threshold instead (uneven light), in case. A code the
            # glance misses has large modules (few module edges per patch; small ones look code-like),
            # so this read looks at half the resolution: a quarter of the pixels, and a fifth of the cost
            # on a cluttered frame (the local threshold: an eighth).
            small, f = halved(gray)
            method = "zxing" if due else "zxing+global"
            raw, unread = self._zx.scan(small, binarizer="local" if due else "global", downscale=False)
            unread = [scaled(poly, f) for poly in unread]
            if not unread:
                return dedupe([QrSymbol(data, text_of(data), scaled(poly, f), method) for data, poly in raw])
        h, w = gray.shape
        boxes = look.regions() if look.score >= EVIDENCE else []
        found: list[QrSymbol] = []
        for box in boxes or [(0, 0, w, h)]:
            part = crop(gray, box)
            codes: list[tuple[bytes, Polygon]] = []
            seen: list[Polygon] = []
            method = "zxing+global"
            if boxes and self._zx is not None:
                # Around a code, light is even enough for one threshold far more often than across the
                # frame, and it costs a fraction of the local one: the fast pass proper follows only if it
                # read nothing or saw a symbol it could not read.
                codes, seen = self._zx.scan(part, binarizer="global", invert=False, downscale=False)
                if not codes and not seen:
                    # Not even a finder pattern, on code-like patches: most often a dark-mode screen.
                    # Inverting the crop ourselves costs one more read only here; zxing's own try_invert
                    # would read every box twice, looking for more symbols.
                    codes, seen = self._zx.scan(255 - part, binarizer="global", invert=False,
                                                downscale=False)
            if not codes or seen:
                fast, seen = self._fast(part)
                codes, method = codes + fast, self._first.name
            unread += [shift(poly, box[0], box[1]) for poly in seen]
            found += [QrSymbol(data, text_of(data), shift(poly, box[0], box[1]), method) for data, poly in codes]
        found = dedupe(found)
        # Where a code may still be: code-like patches no code read covers (a second phone beside an
        # easy one), a symbol zxing saw but could not read; and, every 30th Nth frame (3 s at 30 fps)
        # without either, the whole frame, in case all of that missed a code.
        where = look.regions(exclude=[c.polygon for c in found], include=unread)
        if not where and not found and self._frames % (30 * self.slow_pass_every) == 0:
            where = [(0, 0, w, h)]
        if not where:
            return found
        pixels = sum((b[2] - b[0]) * (b[3] - b[1]) for b in where)
        passes = self.fitting(pixels)
        if not passes or self._searched(look.means, len(passes)):
            return found
        # The global-threshold pass on every such frame: the cheapest, and it rescues the most (see
        # `bench/decode.py`). Then the others take turns, each starting only if it fits what is left of
        # the budget, so a code held in view meets them all.
        left = self.slow_pass_ms
        turns = passes[1:]
        for i in range(len(passes)):
            if i:
                p = turns[self._next_pass % len(turns)]
                if self.cost(p, pixels) > left:
                    break  # its turn comes on the next frame, whole
                self._next_pass = (self._next_pass + 1) % len(turns)
                self._idle_passes += 1
            else:
                p = passes[0]
            left -= self.cost(p, pixels)
            more = dedupe([code for box in where for code in read_box(p, gray, box)])
            if more:
                self._idle = None
                if not found:
                    return more
                found = dedupe(found + more)
                # The second phone is read: search on only if code-like patches are still unexplained.
                where = look.regions(exclude=[c.polygon for c in found])
                if not where:
                    return found
                pixels = sum((b[2] - b[0]) * (b[3] - b[1]) for b in where)
        return found

    def _searched(self, means: np.ndarray, passes: int) -> bool:
        """True for a scene that has not changed since all `passes` searched it in vain.

        A textured scene that stays put (a poster, a tiled wall) gets every pass once, then rests
        until it changes: a phone moving in, a person passing. Patch means barely feel sensor noise.
        A new scene starts the turns over from the most useful pass.
        """
        import cv2

        idle = self._idle
        if idle is not None and idle.shape == means.shape and int(cv2.absdiff(idle, means).max()) <= 8:
            return self._idle_passes >= passes - 1
        self._idle, self._idle_passes, self._next_pass = means, 0, 0
        return False

    @staticmethod
    def _run(p: Pass, gray: np.ndarray) -> list[QrSymbol]:
        return read_box(p, gray, (0, 0, gray.shape[1], gray.shape[0]))



def decode_image(image: np.ndarray, decoders: Sequence[str] = DECODER_NAMES) -> list[QrSymbol]:
    """One-off thorough decode of a still image (the `decode` command, tests)."""
    return FrameDecoder(decoders).decode(image, thorough=True)


def decode_file(path: str, decoder: FrameDecoder | None = None) -> list[QrSymbol]:
    """Every QR code in an image file, thoroughly: of an animation, every frame's (frame by frame, each
    code once where it stays put). Raises `InputError` for a file that cannot be read."""
    decoder = decoder or FrameDecoder()
    found: list[QrSymbol] = []
    for frame in read_frames(path):
        found = dedupe(found + decoder.decode(frame, thorough=True))
    return found
