"""`decode_cbor`'s quick path (one `loads` with a secret marker after the data) answers exactly as a decoder on a
stream that then checks for trailing bytes: the same item, or `malformed` with the same reason."""

from __future__ import annotations

import math

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.codes.base import CodeError
from scanner.codes.hcc1 import _MARK, _MARK_TAIL, TRANSPARENT_TAGS, _decode_cbor_exactly, decode_cbor

items = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.integers(-3, 3) | st.text(max_size=3), inner,
                                                                 max_size=4)
    | st.builds(cbor2.CBORTag, st.sampled_from([18, 61, 1000]), inner),
    max_leaves=12)


def answer(fn, data: bytes):
    try:
        return "ok", fn(data, "item")
    except CodeError as e:
        return e.verdict, e.reason


def same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def tag_head(tag: int, size: int) -> bytes:
    """A head of `tag` with its number in `size` bytes (0: in the head byte), minimal or not."""
    if size == 0:
        return bytes([0xC0 + tag])
    return bytes([0xD8 + {1: 0, 2: 1, 4: 2, 8: 3}[size]]) + tag.to_bytes(size, "big")


# Heads of the tags cbor2 decodes to their content unchanged, in every size their number fits.
transparent_heads = st.sampled_from([tag_head(t, n) for t in TRANSPARENT_TAGS for n in (1, 2, 4, 8)
                                     if t < 256 ** n])


@given(items, st.binary(max_size=6) | st.just(b"") | st.sampled_from([b"\xff", b"\x00", b"\xf7"])
       | st.lists(transparent_heads, min_size=1, max_size=3).map(b"".join))
@settings(max_examples=800, deadline=None)
def test_same_answer_for_an_item_with_or_without_trailing_bytes(item, tail) -> None:
    data = cbor2.dumps(item) + tail
    assert answer(decode_cbor, data) == answer(_decode_cbor_exactly, data)


@given(st.binary(max_size=40))
@settings(max_examples=800, deadline=None)
def test_same_answer_for_any_bytes(data: bytes) -> None:
    fast, exact = answer(decode_cbor, data), answer(_decode_cbor_exactly, data)
    assert fast[0] == exact[0] and same(fast[1], exact[1])


@pytest.mark.parametrize("data", [b"", b"\x82\x01", b"\x01\x02", b"\x9f\x01",
                                  b"\x01\x82\x01", b"\xa1\x01", b"\x01\xd8\x1c", b"\x01\xd9\x01\x00",
                                  b"\x01\xd9\xd9\xf7", b"\x01\xda\x00\x00\x00\x1c\xd8\x1c"])
def test_refusals_name_the_problem(data: bytes) -> None:
    with pytest.raises(CodeError) as e:
        decode_cbor(data, "the thing")
    assert e.value.verdict == "malformed" and "the thing" in e.value.reason


def test_every_tag_cbor2_decodes_to_its_content_is_guarded() -> None:
    # Trailing bytes made only of such heads would wrap the marker and still decode to it.
    content = b"\x00\x01content"
    seen = []
    for tag in [*range(65536), 2**16, 2**32, 2**64 - 1]:
        try:
            value = cbor2.loads(cbor2.dumps(cbor2.CBORTag(tag, None))[:-1] + cbor2.dumps(content))
        except cbor2.CBORError:
            continue
        if type(value) is bytes and value == content:
            seen.append(tag)
    assert tuple(seen) == TRANSPARENT_TAGS


def test_the_marker_itself_is_one_item() -> None:
    assert decode_cbor(_MARK_TAIL, "x") == _MARK
