"""The HCC1 claims and header checks give the verdict and reason docs/format.md §2 gives, for claims of
any CBOR type (the checks test what cbor2 decodes by exact type), and a header answers the same from the
parsed-header memo as when parsed afresh."""

from __future__ import annotations

from typing import TypeGuard

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.hcc1 import CLAIMS_VERSION, COSE_ALGS, RELATIONS, CodeClaims
from scanner.codes import hcc1
from scanner.codes.base import CodeError

# Values at the edges of the checks (bool is not an integer; a float or a big number is not a small one)
# and anything else CBOR holds.
EDGE_VALUES = [True, False, None, -1, 0, 1, 2, 3, 9, 2**64, -2**64, 1.0, 0.0, "", "x", b"", b"\x01" * 16,
               cbor2.CBORSimpleValue(100), cbor2.CBORTag(1000, 1), [1], {"n": "x"}]
ANY = (st.sampled_from(EDGE_VALUES) | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=4)
       | st.binary(max_size=17))
CWT_KEYS = (1, 6, 4, 7)
HC_KEYS = ("v", "sub", "n", "s", "sd", "t", "g")


def _int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def reference(cwt: object) -> str:
    """The checks of §2 in their order, written the plain way: the verdict and reason of the first to fail."""
    if not isinstance(cwt, dict):
        return "malformed: CWT payload is not a map"
    hc = cwt.get(-65537)
    if not isinstance(hc, dict):
        return "malformed: health-code claims (-65537) missing or not a map"
    v = hc.get("v")
    if not (_int(v) and v >= 0):
        return "malformed: claims version (v) missing or not an unsigned integer"
    if v != CLAIMS_VERSION:
        return f"unsupported: claims version {v} is not supported"
    checks = [
        (isinstance(cwt.get(1), str) and cwt.get(1) != "", "issuer (iss) missing or not text"),
        (_int(cwt.get(6)), "issued-at (iat) missing or not an integer"),
        (_int(cwt.get(4)), "expiry (exp) missing or not an integer"),
        (isinstance(cwt.get(7), bytes) and len(cwt[7]) == 16, "code id (cti) missing or not 16 bytes"),
        (isinstance(hc.get("sub"), bytes) and len(hc["sub"]) == 16, "subject (sub) missing or not 16 bytes"),
        (isinstance(hc.get("n"), str), "name (n) missing or not text"),
        (_int(hc.get("s")) and 0 <= hc["s"] <= 2, "status (s) missing or not 0, 1 or 2"),
        (_int(hc.get("sd")), "status date (sd) missing or not an integer"),
        (_int(hc.get("t")) and 0 <= hc["t"] <= 1, "code type (t) missing or not 0 or 1"),
    ]
    for ok, reason in checks:
        if not ok:
            return f"malformed: {reason}"
    if "g" in hc:
        g = hc["g"]
        if not isinstance(g, dict):
            return "malformed: guardian (g) is not a map"
        if not isinstance(g.get("n"), str):
            return "malformed: guardian name (g.n) missing or not text"
        if not (_int(g.get("r")) and g["r"] >= 0 and g["r"] in RELATIONS.values()):
            return "malformed: guardian relation (g.r) missing or not one of 1-6, 9"
        if not (isinstance(g.get("sub"), bytes) and len(g["sub"]) == 16):
            return "malformed: guardian pseudonym (g.sub) missing or not 16 bytes"
    return "ok"


def answer(payload: bytes) -> str:
    try:
        c = hcc1._claims(payload)
    except CodeError as e:
        return f"{e.verdict}: {e.reason}"
    m = cbor2.loads(payload)
    hc = m[-65537]
    assert c[:10] == (m[1], m[6], m[4], m[7], hc["v"], hc["sub"], hc["n"], hc["s"], hc["sd"], hc["t"] == 1)
    assert (c.guardian is None) == ("g" not in hc)
    return "ok"


@st.composite
def claim_maps(draw: st.DrawFn) -> object:
    m = CodeClaims(iss="CN-ZJ", iat=1_800_000_000, exp=1_800_003_600,
                   guardian=draw(st.none() | st.just(("李*华", 1, b"\x02" * 16)))).to_cbor_map()
    hc = m[-65537]
    assert isinstance(hc, dict)
    for _ in range(draw(st.integers(1, 3))):  # a few claims replaced by anything, or removed
        where = draw(st.sampled_from(["cwt", "hc", "hc", "g"]))
        target = m if where == "cwt" else hc if where == "hc" else hc.get("g")
        if not isinstance(target, dict):
            continue
        key = draw(st.sampled_from(CWT_KEYS if where == "cwt" else HC_KEYS if where == "hc" else ("n", "r", "sub")))
        if draw(st.integers(0, 5)):
            target[key] = draw(ANY)
        else:
            target.pop(key, None)
    return draw(st.sampled_from([m, hc, [m]]) if draw(st.integers(0, 20)) == 0 else st.just(m))


def one_claim_set(where: str, key: object, value: object) -> dict:
    m = CodeClaims(iss="CN-ZJ", iat=1_800_000_000, exp=1_800_003_600, guardian=("李*华", 1, b"\x02" * 16)).to_cbor_map()
    hc = m[-65537]
    assert isinstance(hc, dict)
    target = m if where == "cwt" else hc if where == "hc" else hc["g"]
    target[key] = value
    return m


@pytest.mark.parametrize("where_key", [("cwt", k) for k in CWT_KEYS] + [("hc", k) for k in HC_KEYS]
                         + [("g", k) for k in ("n", "r", "sub")])
def test_every_claim_with_every_edge_value(where_key: tuple[str, object]) -> None:
    for value in EDGE_VALUES:
        m = one_claim_set(*where_key, value)
        assert answer(cbor2.dumps(m)) == reference(m), value


@given(claim_maps())
@settings(max_examples=1000, deadline=None)
def test_claims_checks_give_the_documented_verdict_and_reason(cwt: object) -> None:
    assert answer(cbor2.dumps(cwt)) == reference(cwt)


def test_what_cbor2_decodes_is_an_integer_exactly_when_its_type_is_int() -> None:
    # The premise of the exact-type checks: cbor2 decodes no integer to a subclass of int but bool.
    for data in (b"\x01", b"\x3a\xff\xff\xff\xff", b"\xc2\x49\x01" + b"\x00" * 8, b"\xf5", b"\xf8\x64",
                 b"\xfb" + b"\0" * 8):
        v = cbor2.loads(data)
        assert (type(v) is int) == _int(v)


def header_answer(protected: bytes, unprotected: dict) -> tuple[str, object]:
    try:
        return hcc1._header(protected, unprotected)
    except CodeError as e:
        return e.verdict, e.reason


@given(st.dictionaries(st.sampled_from([1, 4, 5]), st.sampled_from([*COSE_ALGS, 1, True]) | ANY, max_size=3)
       .map(cbor2.dumps) | st.binary(max_size=12), st.booleans())
@settings(max_examples=300, deadline=None)
def test_a_header_answers_the_same_from_the_memo_as_parsed_afresh(protected: bytes, kid_unprotected: bool) -> None:
    unprotected = {4: b"kid"} if kid_unprotected else {}
    hcc1._HEADERS.clear()
    alone = header_answer(protected, {})
    parsed = alone[0] in COSE_ALGS.values()
    hcc1._HEADERS.clear()
    fresh = header_answer(protected, unprotected)
    assert (protected in hcc1._HEADERS) == parsed  # only protected headers that parsed are kept
    assert header_answer(protected, unprotected) == fresh
    # An unprotected kid makes a header that parsed (memo or not) malformed; an unsupported alg still
    # comes first, and a header malformed already stays so.
    unprotected_kid = ("malformed", "kid is in the unprotected header (HCC1 requires it protected, and only there)")
    with_kid = header_answer(protected, {4: b"kid"})
    if alone[0] in COSE_ALGS.values():
        assert with_kid == unprotected_kid
    else:
        assert with_kid[0] == alone[0]
