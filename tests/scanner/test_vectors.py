"""Every HCC1 conformance vector through the library: trust list, status lists, verdict and fields."""

from __future__ import annotations

import pytest

from keys.errors import TrustListError
from keys.keyfile import load_public_key_pem
from keys.trustlist import TrustStore
from tests.helpers.vectors import CASES, assert_matches, run_case


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector(case: dict) -> None:
    if "error" in case["expected"]:
        anchors = [load_public_key_pem(a) for a in case["trust_anchors"]]
        with pytest.raises(TrustListError):
            TrustStore.from_document(case["trust_list"], anchors)
        return
    assert_matches(case["expected"], run_case(case))


def test_every_verdict_is_covered_by_the_vectors() -> None:
    from scanner.verify import Verdict

    seen = {c["expected"].get("verdict") for c in CASES}
    # `rules` comes from a venue's signed rules list, not from a code alone: tests/scanner/rules covers it.
    assert {v.value for v in Verdict} - {Verdict.RULES.value} <= seen
