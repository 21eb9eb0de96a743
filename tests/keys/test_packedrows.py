"""Status-list entries packed from their compact form read exactly as `json` and the careful checks read them."""

from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from keys.jsonstream import object_events
from keys.packedrows import PackedSubjects, packed_subjects
from keys.statuslist import _subject_rows

INT_MAX = 2**63 - 1
entries = st.tuples(st.binary(min_size=16, max_size=16), st.integers(0, 2),
                    st.integers(0, 10**12) | st.integers(10**17, INT_MAX))
# How the publisher wrote an entry: compact (the packed form), json's default spacing, members reordered.
forms = st.sampled_from(["compact", "spaced", "reordered"])


def entry_text(sub: bytes, s: int, sd: int, form: str) -> str:
    b64 = base64.b64encode(sub).decode()
    if form == "compact":
        return f'{{"sub":"{b64}","s":{s},"sd":{sd}}}'
    if form == "spaced":
        return json.dumps({"sub": b64, "s": s, "sd": sd})
    return json.dumps({"sd": sd, "s": s, "sub": b64}, separators=(",", ":"))


def read_rows(text: str, batch_chars: int) -> tuple[list[tuple[bytes, int, int]], int]:
    rows: list[tuple[bytes, int, int]] = []
    packed = 0
    for kind, _, value in object_events([text], arrays=["subjects"], batch_chars=batch_chars,
                                        parsers={"subjects": packed_subjects}):
        assert kind == "items"
        if isinstance(value, PackedSubjects):
            packed += len(value)
            rows.extend(value)
        else:
            rows.extend(_subject_rows(value, len(rows)))
    return rows, packed


@settings(max_examples=200, deadline=None)
@given(listed=st.lists(st.tuples(entries, forms), max_size=80), batch_chars=st.integers(60, 3000))
def test_packed_and_parsed_entries_are_the_listed_ones_in_order(listed, batch_chars: int) -> None:
    text = '{"subjects":[' + ",".join(entry_text(*e, form) for e, form in listed) + "]}"
    rows, _ = read_rows(text, batch_chars)
    assert rows == [e for e, _ in listed]


def test_a_list_in_the_compact_form_is_read_packed_but_for_its_last_entry() -> None:
    listed = [(i.to_bytes(16, "big"), i % 3, 1_767_220_000 + i) for i in range(500)]
    text = '{"subjects":[' + ",".join(entry_text(*e, "compact") for e in listed) + "]}"
    rows, packed = read_rows(text, 4096)
    assert rows == listed and packed == 499


def test_entries_only_the_careful_checks_may_judge_are_left_to_them() -> None:
    good = entry_text(b"\x01" * 16, 1, 5, "compact")
    for odd in ['{"sub":"AAAAAAAAAAAAAAAAAAAAAA==","s":1,"sd":1234567890123456789}',  # 19 digits
                '{"sub":"AAAAAAAAAAAAAAAAAAAAAA==","s":1,"sd":05}',  # not JSON
                '{"sub":"AAAAAAAAAAAAAAAAAAAAAA==","s":3,"sd":5}',  # no such status
                '{"sub":"AAAAAAAAAAAAAAAAAAAA====","s":1,"sd":5}']:  # 15 bytes
        got = packed_subjects(",".join([good, good, odd, good, good]))
        assert got is not None and len(got[1]) == 2 and got[0] == 2 * len(good) + 1
        assert packed_subjects(",".join([odd, good, good])) is None
