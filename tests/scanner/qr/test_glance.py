"""Where the camera's passes look: the glance's boxes around code-like patches, from real rendered frames."""

from __future__ import annotations

import numpy as np

from scanner.qr.glance import EVIDENCE, glance
from scanner.sources.synthetic import Distortion, empty_frame, gate_frame
from tests.helpers.payloads import fresh_payloads

PLAIN = Distortion(angle=20, glare=0, inverted=0, contrast=(0.7, 1.0))


def inside(polygon, box, margin: float = 0) -> bool:
    x0, y0, x1, y1 = box
    return all(x0 + margin <= x <= x1 - margin and y0 + margin <= y <= y1 - margin for x, y in polygon)


def test_each_phone_gets_a_box_of_its_own_that_holds_the_whole_symbol():
    payloads = fresh_payloads(2)
    rng = np.random.default_rng(31)
    for _ in range(6):
        frame, placed = gate_frame(rng, payloads, 640, 480, PLAIN)
        look = glance(frame)
        assert look.score >= EVIDENCE
        boxes = look.regions()
        assert 1 <= len(boxes) <= 2
        for p in placed:
            # The symbol and a few pixels of its quiet zone are inside one box.
            assert any(inside(p.polygon, b, margin=4) for b in boxes)
        for b in boxes:
            assert b[0] % 8 == 0 and b[1] % 8 == 0  # on zxing-cpp's binarizer grid
        if len(boxes) == 2:
            (a0, a1, a2, a3), (b0, b1, b2, b3) = boxes
            assert a2 <= b0 or b2 <= a0 or a3 <= b1 or b3 <= a1  # no pixel read twice
        # Once both codes are read, nothing code-like is left unexplained.
        assert look.regions(exclude=[p.polygon for p in placed]) == []
        # With one read, the other phone's box is what is left.
        (left,) = look.regions(exclude=[placed[0].polygon])
        assert inside(placed[1].polygon, left, margin=4)


def test_no_box_without_code_like_patches_unless_a_symbol_was_seen():
    rng = np.random.default_rng(32)
    frame = empty_frame(rng)
    look = glance(frame)
    assert look.score < EVIDENCE and look.regions() == []
    seen = ((100.0, 100.0), (160.0, 100.0), (160.0, 160.0), (100.0, 160.0))
    (box,) = look.regions(include=[seen])
    assert inside(seen, box, margin=8) and box[2] - box[0] < 320
