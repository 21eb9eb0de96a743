"""The fast upload decoder accepts exactly what the API's pydantic model accepts, and the same rows."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sync.hub.limits import BodyLimits, BodyRefused
from sync.hub.uploadcodec import decode_batch
from sync.hub.visits import UploadBatch
from tests.helpers.hubrows import chain_rows, new_log_id

LIMITS = BodyLimits()
ROW = chain_rows("dev-1", 1, ts_ms=1_767_225_600_000)[0]


def body(rows: list[dict], **top: object) -> bytes:
    return json.dumps({"log_id": new_log_id(), "visits": rows, **top}).encode()


def pydantic_rows(text: bytes) -> list[dict] | None:
    try:
        return [v.model_dump() for v in UploadBatch.model_validate_json(text).visits]
    except ValidationError:
        return None


def test_a_good_batch_decodes_to_the_rows_pydantic_gives():
    rows = chain_rows("dev-1", 20, ts_ms=1_767_225_600_000, extra={"school": {"role": "student"}})
    text = body(rows, checkpoint={"seq": 20, "chain": rows[-1]["chain"], "signature": "c2ln"})
    batch = decode_batch(text, LIMITS)
    assert batch is not None and batch.rows == pydantic_rows(text)
    assert batch.checkpoint is not None and (batch.checkpoint.seq, batch.checkpoint.chain) == (20, rows[-1]["chain"])
    assert batch.rows[0]["decided_by"] is None  # a later field left out reads as null


BAD = [
    ("seq", True), ("seq", 1.0), ("seq", 0), ("seq", "1"), ("ts_ms", 2**64), ("admit", 1), ("guardian", None),
    ("visit_id", ""), ("visit_id", "x" * 65), ("chain", ROW["chain"] + "\n"), ("chain", ROW["chain"].upper()),
    ("prev_chain", "00"), ("prev_chain", "0" * 62 + " 0"), ("prev_chain", "0" * 63 + "\t"), ("chain", "é" * 64),
    ("prev_chain", "0" * 63 + "A"), ("chain", "0" * 63 + "g"), ("extra", []), ("extra", None), ("verdict", None),
    ("trust_list_version", "7"),
    ("smuggled", "+86 138 0000 0000"),
]


@pytest.mark.parametrize(("field", "value"), BAD)
def test_what_the_fast_decoder_does_not_accept_goes_the_careful_way(field, value):
    text = body([{**ROW, field: value}])
    assert decode_batch(text, LIMITS) is None
    careful = pydantic_rows(text)
    # Where pydantic accepts (an integer beyond 64 bits), the careful path stores what it always did.
    assert careful is None or (field, value) == ("ts_ms", 2**64)


def test_unknown_top_level_keys_and_bad_log_ids_are_not_accepted_fast():
    assert decode_batch(body([ROW], extra_key=1), LIMITS) is None
    assert decode_batch(json.dumps({"log_id": "A" * 32, "visits": [ROW]}).encode(), LIMITS) is None
    assert decode_batch(json.dumps({"log_id": "a" * 32 + "\n", "visits": [ROW]}).encode(), LIMITS) is None


def test_deep_extra_is_refused_and_deep_junk_goes_the_careful_way():
    deep: object = {}
    for _ in range(LIMITS.max_depth):
        deep = {"a": deep}
    with pytest.raises(BodyRefused) as e:
        decode_batch(body([{**ROW, "extra": deep}]), LIMITS)
    assert e.value.status == 413 and "deeper" in e.value.detail
    junk = b'{"visits": [{"extra": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}]}"
    assert decode_batch(junk, LIMITS) is None


def test_a_body_that_may_hold_too_many_values_goes_the_careful_way():
    small = BodyLimits(max_items=50)
    assert decode_batch(body([ROW] * 3), small) is None


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=70),
                    st.lists(st.integers(), max_size=2),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=300)
@given(field=st.sampled_from(sorted(ROW)), value=_VALUES)
def test_the_fast_decoder_never_accepts_what_pydantic_refuses(field, value):
    text = body([{**ROW, field: value}])
    try:
        fast = decode_batch(text, LIMITS)
    except BodyRefused:
        return
    if fast is not None:
        assert fast.rows == pydantic_rows(text)
