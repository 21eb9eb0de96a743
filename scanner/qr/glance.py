"""Where in a camera frame a QR code may be: a glance at every patch for module-like edges, and boxes around them.

A QR symbol is a dense checkerboard: across a patch a few dozen modules wide, most samples a few pixels
apart differ strongly both horizontally and vertically. Smooth shading has no such edges, clutter has them
along lines only, sensor noise is too weak. Sampling a frame on a grid of about 160 columns keeps the glance
to a few hundredths of a millisecond, and its patch scores say where the decoding passes should look: the
fast pass reads only the box around code-like patches, the fallbacks only the box around code-like patches
that no code read so far covers (a second phone), or around a symbol zxing found but could not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from scanner.qr.engines import Polygon

# (x0, y0, x1, y1) in frame pixels, x1 and y1 exclusive.
Box = tuple[int, int, int, int]

# A patch is "code-like" when at least this share of its neighbouring samples differ strongly both
# across and down. On the gate corpus (`bench/decode.py`) frames with codes score 0.54 or more,
# cluttered empty frames at most 0.44.
EVIDENCE = 0.5
# Patches around a code-like one that score at least this belong to the same symbol: its edges, its
# glare spot, its blurred corner. The box holds them and one patch more on every side (the quiet zone).
_LOW = 0.35
_PATCH = 12  # samples per patch side: 48 px at 640x480, about a quarter of the smallest code
_EDGE = 20  # grey levels between neighbouring samples that count as a module edge, well above noise
# A box this large a share of the frame is read whole: cropping would save little.
_WHOLE = 0.75


@dataclass(frozen=True)
class Glance:
    """What a glance saw: the busiest patch's score, every patch's score and mean brightness."""

    score: float  # 0 to 1
    scores: np.ndarray  # uint8, 0 to 255, one per patch (rows x cols)
    samples: np.ndarray  # the sampled pixels the scores come from, _PATCH per patch side
    cell: int  # frame pixels per patch side
    shape: tuple[int, int]  # the frame's height and width

    @cached_property
    def means(self) -> np.ndarray:
        """uint8 mean brightness per patch, to tell whether a scene changed (only the fallbacks ask)."""
        import cv2

        if not self.scores.size:
            return self.samples
        rows, cols = self.scores.shape
        return cv2.resize(self.samples, (cols, rows), interpolation=cv2.INTER_AREA)

    @cached_property
    def _seeds(self) -> np.ndarray:
        """The code-like patches (255; the others 0)."""
        import cv2

        return cv2.threshold(self.scores, EVIDENCE * 255 - 0.5, 255, cv2.THRESH_BINARY)[1]

    def regions(self, exclude: Sequence[Polygon] = (), include: Sequence[Polygon] = ()) -> list[Box]:
        """Boxes around the code-like patches that no polygon of `exclude` covers (one per cluster of
        patches: one per phone), and around each polygon of `include` (symbols seen but not read).

        Empty when there is neither; the whole frame when the boxes would hold most of it.
        """
        import cv2

        h, w = self.shape
        cell = self.cell
        boxes: list[Box] = [_grown(p, cell, w, h) for p in include]
        if self.score >= EVIDENCE and self.scores.size:
            seeds = self._seeds
            # A read code's bezel and quiet zone score as code-like too: cover a little more.
            covers = [_cover(poly, cell) for poly in exclude]
            if covers:
                seeds = seeds.copy()
                for cover in covers:
                    cv2.fillConvexPoly(seeds, cover, 0)
            points = cv2.findNonZero(seeds)
            if points is not None:
                # Code-like patches and, around them, the patches that score as part of the same symbol.
                _, low = cv2.threshold(self.scores, _LOW * 255, 255, cv2.THRESH_BINARY)
                for cover in covers:
                    cv2.fillConvexPoly(low, cover, 0)
                for x, y in np.asarray(points, np.int32).reshape(-1, 2).tolist():
                    if low[y, x]:
                        # Its cluster (8-connected), emptied so that the cluster's other code-like patches
                        # add no box of their own. A flood fill per cluster, not connected-component
                        # labelling: OpenCV labels even a grid this small on its worker threads.
                        bx, by, bw, bh = cv2.floodFill(low, None, (x, y), 0, flags=8)[3]
                        # One patch more on every side: the symbol's corners and quiet zone.
                        boxes.append((max(0, (bx - 1) * cell), max(0, (by - 1) * cell),
                                      min(w, (bx + bw + 1) * cell), min(h, (by + bh + 1) * cell)))
        if not boxes:
            return []
        boxes = _merged([_aligned(b, w, h) for b in boxes])
        if sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes) >= _WHOLE * w * h:
            return [(0, 0, w, h)]
        return boxes


def _cover(poly: Polygon, cell: int) -> np.ndarray:
    """The patches under `poly` grown by 30% about its centre, as a polygon in patch coordinates."""
    cx, cy = sum(p[0] for p in poly) / 4, sum(p[1] for p in poly) / 4
    return np.array([(round(((x - cx) * 1.3 + cx) / cell - 0.5), round(((y - cy) * 1.3 + cy) / cell - 0.5))
                     for x, y in poly], np.int32)


def _aligned(box: Box, w: int, h: int) -> Box:
    """`box` grown to start on zxing-cpp's 8-pixel binarizer grid, so that inside it a code is binarized
    just as in the whole frame (a code at the edge of readability stays readable in the crop)."""
    x0, y0, x1, y1 = box
    return (x0 // 8 * 8, y0 // 8 * 8, min(w, -(-x1 // 8) * 8), min(h, -(-y1 // 8) * 8))


def _merged(boxes: list[Box]) -> list[Box]:
    """Overlapping boxes joined into one, so that no pixel is read twice."""
    out: list[Box] = []
    for box in boxes:
        while True:
            hit = next((o for o in out if box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3]), None)
            if hit is None:
                break
            out.remove(hit)
            box = (min(box[0], hit[0]), min(box[1], hit[1]), max(box[2], hit[2]), max(box[3], hit[3]))
        out.append(box)
    return out


def _grown(poly: Polygon, margin: int, w: int, h: int) -> Box:
    xs, ys = [p[0] for p in poly], [p[1] for p in poly]
    return (max(0, int(min(xs)) - margin), max(0, int(min(ys)) - margin),
            min(w, int(max(xs)) + 1 + margin), min(h, int(max(ys)) + 1 + margin))


def glance(gray: np.ndarray) -> Glance:
    """Score every patch of a grayscale frame for how code-like it is (see the module)."""
    import cv2

    h, w = gray.shape
    step = max(1, max(h, w) // 160)
    # Every step-th pixel of every step-th row: a strided view, so only those rows are fetched.
    s = gray[::step, ::step]
    rows, cols = (s.shape[0] - 1) // _PATCH, (s.shape[1] - 1) // _PATCH
    if rows < 1 or cols < 1:
        # Too small to tell: let the fallbacks look, at the whole frame.
        return Glance(1.0, np.zeros((0, 0), np.uint8), np.ascontiguousarray(s), step * _PATCH, (h, w))
    r, c = rows * _PATCH, cols * _PATCH
    s = np.ascontiguousarray(s[:r + 1, :c + 1])
    here = s[:r, :c]
    # The edges across (top half) and down (bottom half) in one buffer: one threshold, one reduction.
    edges = np.empty((2 * r, c), np.uint8)
    cv2.absdiff(s[:r, 1:], here, dst=edges[:r])
    cv2.absdiff(s[1:, :c], here, dst=edges[r:])
    cv2.threshold(edges, _EDGE, 255, cv2.THRESH_BINARY, dst=edges)
    shares = cv2.resize(edges, (cols, 2 * rows), interpolation=cv2.INTER_AREA)
    both = cv2.min(shares[:rows], shares[rows:])
    return Glance(cv2.minMaxLoc(both)[1] / 255, both, here, step * _PATCH, (h, w))


def code_evidence(gray: np.ndarray) -> tuple[float, np.ndarray]:
    """How code-like the busiest patch of a frame is (0 to 1), and the patches' mean brightness."""
    g = glance(gray)
    return g.score, g.means
