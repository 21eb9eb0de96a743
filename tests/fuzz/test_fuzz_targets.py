"""The fuzz campaign, briefly: mutated signed inputs to the four parsers give typed refusals or the
exact signed content, never a crash or a forgery. `bench/fuzz.py` runs the same targets for long."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.fuzz import Target, build_targets, mutate, run_one

TARGETS = build_targets()


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_mutations_are_refused_or_exact(target: Target, seed: int) -> None:
    data = mutate(target.seed, random.Random(seed))
    outcome, detail = run_one(target, data)
    assert outcome in ("refused", "accepted"), (outcome, detail, data[:200])


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=4000))
def test_arbitrary_bytes_are_refused(target: Target, data: bytes) -> None:
    outcome, detail = run_one(target, data)
    assert outcome == "refused" or (outcome == "accepted" and data == target.seed), (outcome, detail)


def test_seeds_are_accepted() -> None:
    for t in TARGETS[:3]:
        assert run_one(t, t.seed) == ("accepted", None), t.name
