"""The visit log's canonical encoding, hash chain, visit ids and venue extra fields (pure)."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.errors import InputError
from scanner.storage.chain import CHAIN_FIELDS, GENESIS, LATER_FIELDS, canonical_bytes, chain_hash, new_visit_id
from scanner.storage.visitlog import validate_extra

ROW = {
    "seq": 1, "visit_id": "018f0000-0000-7000-8000-000000000000", "ts_ms": 1767225600123,
    "device_id": "dev-1", "checkpoint_id": "gate-1", "profile": "pharmacy", "clock_trusted": True,
    "format": "HCC1", "issuer": "CN-ZJ", "code_id": "00" * 16, "subject": "ab" * 16, "code_type": "personal",
    "verdict": "ok", "status": "green", "admit": True, "tone": "pass", "guardian": False,
    "trust_list_version": 42, "status_list_version": 1001, "latency_ms": 12,
    "extra": {"drug_categories": ["antiviral"]},
}


def test_canonical_bytes_are_sorted_compact_json_with_format_version():
    data = canonical_bytes(ROW)
    obj = json.loads(data)
    assert list(obj) == sorted(obj)
    assert obj["v"] == 1
    assert set(obj) == {*CHAIN_FIELDS, "v"} - set(LATER_FIELDS)
    assert b" " not in data
    assert data.startswith(b'{"admit":true,"checkpoint_id":"gate-1"')


def test_later_fields_are_hashed_only_when_set():
    # A row written before the later fields existed hashes as it did; a set field is covered by the chain.
    assert canonical_bytes({**ROW, **dict.fromkeys(LATER_FIELDS)}) == canonical_bytes(ROW)
    guard = {**ROW, "decided_by": "guard", "ref_visit": ROW["visit_id"], "gate": "open", "outcome": "green"}
    obj = json.loads(canonical_bytes(guard))
    assert {k: obj[k] for k in LATER_FIELDS} == {k: guard[k] for k in LATER_FIELDS}
    assert chain_hash(GENESIS, guard) != chain_hash(GENESIS, {**guard, "gate": "failed"})


def test_canonical_bytes_ignore_non_chain_fields_and_key_order():
    shuffled = dict(reversed(list(ROW.items())))
    assert canonical_bytes({**shuffled, "chain": "x", "synced_at_ms": 5}) == canonical_bytes(ROW)


def test_chain_hash_is_sha256_of_prev_and_row():
    expected = hashlib.sha256(bytes(32) + canonical_bytes(ROW)).hexdigest()
    assert chain_hash(GENESIS, ROW) == expected


@pytest.mark.parametrize("field,value", [("verdict", "expired"), ("admit", False), ("seq", 2),
                                         ("extra", {}), ("ts_ms", 1767225600124)])
def test_any_change_changes_the_hash(field, value):
    assert chain_hash(GENESIS, {**ROW, field: value}) != chain_hash(GENESIS, ROW)


@given(st.text(max_size=20))
def test_canonical_bytes_round_trip_any_text(text):
    row = {**ROW, "checkpoint_id": text}
    assert json.loads(canonical_bytes(row).decode("utf-8"))["checkpoint_id"] == text


def test_visit_ids_are_uuid7_unique_and_sort_by_time():
    ids = [new_visit_id(1767225600.0 + i / 1000) for i in range(200)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 36 and i[14] == "7" and i[19] in "89ab" for i in ids)


def test_extra_accepts_pharmacy_and_school_fields():
    extra = validate_extra({"drug_categories": ["antiviral", "antipyretic", "antiviral"],
                            "school": {"role": "student", "direction": "in", "group": "3-2",
                                       "temperature_dc": 365}})
    assert extra == {"drug_categories": ["antipyretic", "antiviral"],
                     "school": {"role": "student", "direction": "in", "group": "3-2", "temperature_dc": 365}}


@pytest.mark.parametrize("extra,needle", [
    ({"name": "Zhang San"}, "extra.name"),
    ({"drug_categories": ["aspirin"]}, "drug_categories"),
    ({"drug_categories": []}, "drug_categories"),
    ({"school": {"role": "student", "direction": "in", "student_name": "Li"}}, "student_name"),
    ({"school": {"role": "pupil", "direction": "in"}}, "school.role"),
    ({"school": {"role": "staff", "direction": "sideways"}}, "school.direction"),
    ({"school": {"role": "staff", "direction": "in", "temperature_dc": 36.5}}, "temperature_dc"),
])
def test_extra_refuses_unknown_or_bad_fields(extra, needle):
    with pytest.raises(InputError, match=needle):
        validate_extra(extra)


def test_the_device_record_and_the_hub_model_follow_the_one_row_declaration() -> None:
    import dataclasses

    from scanner.storage.chain import ROW_FIELDS, VISIT_FIELDS
    from scanner.storage.visitlog import VisitRecord
    from sync.hub.visits import UploadVisit

    assert {f.name for f in dataclasses.fields(VisitRecord)} == set(VISIT_FIELDS) - {"seq"}
    assert tuple(UploadVisit.model_fields) == ROW_FIELDS


def test_the_typed_row_follows_the_one_row_declaration() -> None:
    from typing import Any, get_type_hints

    from scanner.storage.chain import ROW_FIELDS, VISIT_FIELDS, ChainedVisitRow, VisitRow

    def as_hint(spec: type | tuple[type, None]) -> object:
        if isinstance(spec, tuple):
            return spec[0] | None
        return dict[str, Any] if spec is dict else spec

    assert get_type_hints(VisitRow) == {name: as_hint(spec) for name, spec in VISIT_FIELDS.items()}
    assert list(get_type_hints(VisitRow)) == list(VISIT_FIELDS)
    assert tuple(get_type_hints(ChainedVisitRow)) == ROW_FIELDS
    assert VisitRow.__required_keys__ == frozenset(VISIT_FIELDS)


def test_the_device_record_has_the_row_declarations_types() -> None:
    """`VisitRecord` (the device's builder) carries every row field but `seq` with the declared JSON type."""
    import dataclasses
    from typing import get_origin, get_type_hints

    from scanner.storage.chain import VISIT_FIELDS
    from scanner.storage.visitrecord import VisitRecord

    hints = get_type_hints(VisitRecord)
    assert [f.name for f in dataclasses.fields(VisitRecord)] == [n for n in hints]
    for name, spec in VISIT_FIELDS.items():
        if name == "seq":
            assert name not in hints
            continue
        hint = hints[name]
        if isinstance(spec, tuple):
            assert hint == spec[0] | None, name
        elif spec is dict:
            assert get_origin(hint) is dict, name
        else:
            assert hint is spec, name


def _reference(row: dict) -> bytes:
    """The canonical encoding as the module docstring defines it, written out with json.dumps."""
    obj = {name: row.get(name) for name in CHAIN_FIELDS}
    for name in LATER_FIELDS:
        if obj[name] is None:
            del obj[name]
    obj["extra"] = dict(obj["extra"] or {})
    obj["v"] = 1
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@given(texts=st.lists(_TEXT, min_size=6, max_size=6),
       ints=st.lists(st.integers(min_value=-(2**80), max_value=2**80), min_size=3, max_size=3),
       flags=st.lists(st.booleans(), min_size=3, max_size=3), later=st.one_of(st.none(), _TEXT))
def test_canonical_bytes_fast_encoding_writes_the_reference_bytes(texts, ints, flags, later):
    # Rows without `extra` take a faster encoder: any string (control characters, quotes, backslashes,
    # U+2028, astral characters), any integer size and null must come out as json.dumps writes them.
    row = {**ROW, "extra": {}, "visit_id": texts[0], "device_id": texts[1], "checkpoint_id": texts[2],
           "subject": texts[3], "issuer": texts[4], "code_id": None, "format": texts[5], "ts_ms": ints[0],
           "latency_ms": ints[1], "trust_list_version": ints[2], "admit": flags[0], "guardian": flags[1],
           "clock_trusted": flags[2], "outcome": later}
    assert canonical_bytes(row) == _reference(row)
    # A row holding every field (as the hub's decoder gives it, with or without its chain) is copied whole.
    whole = {**dict.fromkeys(LATER_FIELDS), **row}
    assert canonical_bytes(whole) == canonical_bytes({**whole, "prev_chain": GENESIS, "chain": "ab" * 32}) \
        == _reference(row)


def test_canonical_bytes_of_unusual_values_match_the_reference():
    # Types the fast encoder would write differently (floats) or refuse go through json.dumps.
    for odd in ({"latency_ms": 12.5}, {"latency_ms": 1e16}, {"subject": "\ud800"}, {"extra": {"t": 36.6}}):
        row = {**dict.fromkeys(LATER_FIELDS), **ROW, "extra": {}, **odd}
        try:
            expected = _reference(row)
        except UnicodeEncodeError:
            with pytest.raises(UnicodeEncodeError):
                canonical_bytes(row)
            continue
        assert canonical_bytes(row) == expected
