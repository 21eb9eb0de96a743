"""A DCC's verdict and screen fields, read straight from the decoded payload, equal those read from its JSON form.

`_info` reads a real-shaped payload without making its JSON form; whatever the payload holds (tags, byte
strings, frozen maps, missing or doubled groups, numbers where text belongs) it must say exactly what
`_info_from_json` says about the JSON form, and `hcert` must be that JSON form.
"""

from __future__ import annotations

import json
from datetime import date

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.codes.dcc import _FACTS, _info, _info_from_json, json_safe, sig_structure

FIELDS = sorted({k for group in _FACTS.values() for k in group} | {"co", "fn", "gn", "fnt", "gnt"})

leaf = st.one_of(
    st.text(max_size=8), st.integers(-5, 5), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.binary(max_size=4), st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    st.builds(cbor2.CBORTag, st.sampled_from([0, 1000]), st.text(max_size=4)),
)


def maps(values: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    plain = st.dictionaries(st.sampled_from(FIELDS) | st.integers(0, 3), values, max_size=6)
    return plain | plain.map(cbor2.frozendict) | plain.map(lambda m: cbor2.CBORTag(1001, m))


entries = maps(leaf)
groups = st.one_of(st.lists(entries, max_size=2), entries, leaf, st.lists(leaf, max_size=2),
                   st.lists(entries, max_size=2).map(lambda g: cbor2.CBORTag(1002, g)))
payloads = st.fixed_dictionaries(
    {}, optional={"v": groups, "t": groups, "r": groups, "nam": maps(leaf) | leaf, "dob": leaf, "ver": leaf,
                  1: leaf})
# Shaped like real payloads (one group, a list of plain entries), with an odd value now and then.
plain_leaf = st.text(max_size=8) | st.integers(0, 3) | st.none()
odd_leaf = plain_leaf | leaf
real_entries = st.dictionaries(st.sampled_from(FIELDS), st.one_of(*[plain_leaf] * 6, odd_leaf), max_size=8)
real_payloads = st.builds(
    lambda kind, group, rest: {**rest, kind: group}, st.sampled_from(["v", "t", "r"]),
    st.lists(real_entries, min_size=1, max_size=2),
    st.fixed_dictionaries({}, optional={"nam": st.dictionaries(st.sampled_from(FIELDS), st.one_of(
        *[plain_leaf] * 6, odd_leaf)), "dob": odd_leaf, "t": groups}))
issuers = st.none() | st.sampled_from(["DE", "FRA", "Ministry of Health", "de", ""])


@given(real_payloads | payloads | payloads.map(cbor2.frozendict), issuers)
@settings(max_examples=1500, deadline=None)
def test_same_fields_as_from_the_json_form(payload: object, iss: str | None) -> None:
    fast = _info(payload, iss)  # type: ignore[arg-type]
    slow = _info_from_json(json_safe(payload), payload, iss)  # type: ignore[arg-type]
    assert fast == slow and fast.facts == slow.facts and fast.uci == slow.uci
    assert fast.hcert == json_safe(payload)
    signed = fast.with_signer("DE")
    assert signed.signer_country == "DE" and fast.signer_country is None
    assert signed == _info_from_json(json_safe(payload), payload, iss).with_signer("DE")  # type: ignore[arg-type]


def test_a_real_payload_takes_the_direct_path_and_keeps_its_json_form() -> None:
    payload = {"ver": "1.3.0", "dob": "1990-01-01", "nam": {"fn": "Müller", "gn": "Anna", "fnt": "MUELLER",
                                                          "gnt": "ANNA"},
               "v": [{"dn": 2, "sd": 2, "dt": "2021-06-01", "co": "DE", "ci": "URN:UVCI:01:DE:X#1",
                      "mp": "EU/1/20/1528", "ma": "ORG-100030215"}]}
    info = _info(payload, "DE")
    assert info.kind == "v" and info.country == "DE" and info.facts["uci"] == info.uci == "URN:UVCI:01:DE:X#1"
    assert info.name_latin == "MUELLER, ANNA" and info.dob == "1990-01-01"
    assert info.hcert == payload and info.hcert is not payload  # the JSON form is a copy the rules may keep


@given(st.binary(max_size=40).map(lambda kid: cbor2.dumps({1: -7, 4: kid})) | st.just(b""),
       st.sampled_from([0, 1, 23, 24, 255, 256, 65535, 65536]).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
@settings(max_examples=200, deadline=None)
def test_sig_structure_is_cbor2s_encoding(protected: bytes, payload: bytes) -> None:
    assert sig_structure(protected, payload) == cbor2.dumps(["Signature1", protected, b"", payload])


@given(real_payloads | payloads, st.sampled_from([float("nan"), float("inf"), float("-inf")]), issuers)
@settings(max_examples=300, deadline=None)
def test_a_float_json_cannot_hold_is_null_in_the_json_form(payload: object, odd: float, iss: str | None) -> None:
    # NaN and the infinities are CBOR, not JSON: `check --json` would write a line no JSON parser
    # need accept. They read as JavaScript's JSON.stringify writes them: null.
    for where in ("v", "t", "r"):
        group = payload.get(where) if isinstance(payload, dict) else None
        if isinstance(group, list) and group and isinstance(group[0], dict):
            group[0]["dn"] = group[0]["tr"] = group[0]["fr"] = odd
    if isinstance(payload, dict):
        payload["dob"], payload["x"] = odd, [odd, {"y": odd}]
    info = _info(payload, iss)  # type: ignore[arg-type]
    text = json.dumps(info.to_json(), allow_nan=False)  # raises on NaN or an infinity
    assert json.loads(text)["facts"] == info.facts
    assert json.dumps(info.hcert, allow_nan=False) and info.hcert["x"] == [None, {"y": None}]
