"""Every QR image of the conformance vectors, decoded from pixels, gives the same verdict as its text."""

from __future__ import annotations

import pytest

from scanner.qr.images import read_image_payloads
from tests.helpers.vectors import CASES as CASE_LIST
from tests.helpers.vectors import VECTORS, assert_matches, run_case

CASES = {c["name"]: c for c in CASE_LIST}
IMAGES = sorted((VECTORS / "qr").glob("*.png"))


def test_there_are_images() -> None:
    assert len(IMAGES) >= 40


@pytest.mark.parametrize("image", IMAGES, ids=[p.stem for p in IMAGES])
def test_image_decodes_to_payload_and_verdict(image) -> None:
    case = CASES[image.stem]
    payloads = read_image_payloads(image)
    assert len(payloads) == 1
    # A QR symbol cannot carry the keyboard-wedge's trailing newline; everything else is exact.
    assert payloads[0] == case["payload"].strip()
    assert_matches(case["expected"], run_case(case, payloads[0]))
