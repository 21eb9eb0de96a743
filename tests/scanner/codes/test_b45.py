"""The fast Base45 decoder equals the reference `base45` package on every input, refusals included."""

from __future__ import annotations

import base45
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scanner.codes.b45 import CHARSET, b45decode


def reference(text: str) -> bytes | None:
    try:
        return base45.b45decode(text)
    except (ValueError, KeyError, IndexError):
        return None


def ours(text: str) -> bytes | None:
    try:
        return b45decode(text)
    except ValueError:
        return None


@given(st.binary(max_size=600))
@settings(max_examples=500, deadline=None)
def test_round_trip_against_reference_encoder(data: bytes) -> None:
    assert b45decode(base45.b45encode(data).decode()) == data


@given(st.text(alphabet=CHARSET, max_size=60) | st.text(max_size=20))
@settings(max_examples=1000, deadline=None)
def test_same_answer_as_reference_on_any_text(text: str) -> None:
    # The reference also drops trailing newlines; our caller strips surrounding whitespace first.
    assume(not text.endswith("\n"))
    assert ours(text) == reference(text)


@pytest.mark.parametrize("text", ["GGW", "::", "A", "abc", "ÄÄÄ", "ZZZZ"])
def test_refusals(text: str) -> None:
    assert ours(text) is None and reference(text) is None
