"""COSE header rules of RFC 9052 §3 that HCC1 inherits, and CBOR maps with a key twice (RFC 8949 §5.6).

RFC 9052 §3: "Labels in each of the maps MUST be unique. When processing messages, if a label appears
multiple times, the message MUST be rejected as malformed." and "Applications SHOULD verify that the same
label does not occur in both the protected and unprotected header parameters." §3.1 `crit`: a message
listing a critical header parameter the recipient does not understand MUST be rejected; `crit` belongs in
the protected bucket and holds at least one label. A map with a duplicate key is not valid CBOR (RFC 8949
§5.6), so any map of the code with one is `malformed` (docs/format.md §5.2: "CBOR ... structure ... wrong").
"""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.hcc1 import CodeClaims, encode_payload
from keys.keyfile import generate_key, kid_of
from keys.publishing import KeyEntry, sign_trust_list
from keys.signing import sign_raw
from keys.trustlist import TrustStore
from scanner.codes.base import CodeError
from scanner.codes.hcc1 import decode_cbor
from scanner.verify import Verdict, verify_code

NOW = 1_800_000_000
KEY, ROOT = generate_key("ES256"), generate_key("ES256")
KID = kid_of(KEY)
TRUST = TrustStore.from_document(
    sign_trust_list(ROOT, [KeyEntry(KEY.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=0, not_after=2**40)],
                    version=1, issued_at=NOW, next_update=NOW + 60), [ROOT.public_key()])
CLAIMS = CodeClaims(iss="CN-ZJ", iat=NOW - 60, exp=NOW + 3600).to_cbor_map()


def enc(item: object) -> bytes:
    return cbor2.dumps(item)


def raw_map(pairs: list[tuple[object, object]]) -> bytes:
    """A CBOR map of these pairs in this order, a key twice if listed twice (cbor2 would merge them)."""
    assert len(pairs) < 24
    return bytes([0xA0 + len(pairs)]) + b"".join(enc(k) + enc(v) for k, v in pairs)


def signed_code(protected: bytes, unprotected: bytes = b"\xa0", payload: bytes | None = None) -> str:
    """An HCC1 code with these exact header bytes, validly signed by KEY."""
    payload = enc(CLAIMS) if payload is None else payload
    signature = sign_raw(KEY, enc(["Signature1", protected, b"", payload]))
    cose = b"\xd2\x84" + enc(protected) + unprotected + enc(payload) + enc(signature)
    return encode_payload(cose)


def verdict(code: str) -> tuple[Verdict, tuple[str, ...]]:
    r = verify_code(code, TRUST, None, NOW, max_code_age=86400)
    return r.verdict, r.reasons


GOOD_PROTECTED = raw_map([(1, -7), (4, KID)])


def test_the_well_formed_code_these_cases_alter_verifies() -> None:
    assert verdict(signed_code(GOOD_PROTECTED))[0] is Verdict.OK


@pytest.mark.parametrize("pairs", [
    [(1, -7), (4, KID), (4, KID)],          # the same kid twice
    [(1, -8), (1, -7), (4, KID)],           # two algs, the last one the key's
    [(1, -7), (4, b"\0" * 8), (4, KID)],    # two kids, the last one the key's
])
def test_a_label_twice_in_the_protected_header_is_malformed(pairs) -> None:
    v, reasons = verdict(signed_code(raw_map(pairs)))
    assert v is Verdict.MALFORMED and "duplicate" in reasons[0]


def test_a_label_twice_in_the_unprotected_header_is_malformed() -> None:
    v, reasons = verdict(signed_code(GOOD_PROTECTED, raw_map([(5, b"\0"), (5, b"\1")])))
    assert v is Verdict.MALFORMED and "duplicate" in reasons[0]


@pytest.mark.parametrize("unprotected", [{1: -7}, {1: -8}])
def test_alg_in_both_headers_is_malformed(unprotected) -> None:
    v, reasons = verdict(signed_code(GOOD_PROTECTED, enc(unprotected)))
    assert v is Verdict.MALFORMED and "both" in reasons[0]


def test_other_unprotected_labels_are_ignored() -> None:
    assert verdict(signed_code(GOOD_PROTECTED, enc({5: b"\0" * 12, "x": 1})))[0] is Verdict.OK


def test_a_claim_twice_in_the_cwt_is_malformed() -> None:
    pairs = [(k, v) for k, v in CLAIMS.items()]
    v, reasons = verdict(signed_code(GOOD_PROTECTED, payload=raw_map([(1, "CN-SH"), *pairs])))
    assert v is Verdict.MALFORMED and "duplicate" in reasons[0]


@pytest.mark.parametrize("where", ["hc", "g"])
def test_a_key_twice_in_the_health_code_claims_is_malformed(where) -> None:
    hc = dict(CLAIMS[-65537])
    if where == "hc":
        inner = raw_map([("s", 2), *hc.items()])
    else:
        g = raw_map([("n", "李*华"), ("r", 1), ("r", 2), ("sub", b"\1" * 16)])
        inner = raw_map(list(hc.items()))
        inner = bytes([inner[0] + 1]) + inner[1:] + enc("g") + g  # one more pair: "g" and its map
    outer = [(k, v) for k, v in CLAIMS.items() if k != -65537]
    payload = bytes([0xA0 + len(outer) + 1]) + b"".join(enc(k) + enc(v) for k, v in outer) + enc(-65537) + inner
    v, reasons = verdict(signed_code(GOOD_PROTECTED, payload=payload))
    assert v is Verdict.MALFORMED and "duplicate" in reasons[0]


@pytest.mark.parametrize("crit", [[99], ["x-ext"], [99, 1]])
def test_a_critical_header_not_understood_is_unsupported(crit) -> None:
    pairs = [(1, -7), (4, KID), (2, crit), *((c, 0) for c in crit if c not in (1, 4))]
    v, reasons = verdict(signed_code(raw_map(pairs)))
    assert v is Verdict.UNSUPPORTED and "critical" in reasons[0]


@pytest.mark.parametrize("crit", [[1], [4], [1, 4]])
def test_a_critical_header_naming_only_alg_and_kid_is_understood(crit) -> None:
    assert verdict(signed_code(raw_map([(1, -7), (4, KID), (2, crit)])))[0] is Verdict.OK


@pytest.mark.parametrize("crit", [[], 99, [b"\1"], [1.5], [[1]]])
def test_a_crit_that_is_not_a_list_of_labels_is_malformed(crit) -> None:
    v, reasons = verdict(signed_code(raw_map([(1, -7), (4, KID), (2, crit)])))
    assert v is Verdict.MALFORMED and "crit" in reasons[0]


def test_crit_in_the_unprotected_header_is_malformed() -> None:
    v, reasons = verdict(signed_code(GOOD_PROTECTED, enc({2: [99]})))
    assert v is Verdict.MALFORMED and "crit" in reasons[0]


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", ""])
def test_a_text_alg_is_an_unknown_alg(alg) -> None:
    # RFC 9052 §3.1: an alg is an int or a tstr; HCC1 knows only -7 and -8, so any text one is unknown.
    v, reasons = verdict(signed_code(raw_map([(1, alg), (4, KID)])))
    assert v is Verdict.UNSUPPORTED and "algorithm" in reasons[0]


@pytest.mark.parametrize("alg", [b"\x26", -7.0, True, None, [-7]])
def test_an_alg_neither_int_nor_text_is_malformed(alg) -> None:
    v, _ = verdict(signed_code(raw_map([(1, alg), (4, KID)])))
    assert v is Verdict.MALFORMED


keys = st.integers(-5, 5) | st.text(max_size=3)
values = st.integers() | st.text(max_size=4) | st.binary(max_size=4) | st.none()


@given(st.dictionaries(keys, values, min_size=1, max_size=6), st.data(), st.integers(0, 3))
@settings(max_examples=200, deadline=None)
def test_any_map_with_a_key_twice_is_refused_at_any_depth(d: dict, data: st.DataObject, depth: int) -> None:
    pairs = list(d.items())
    key = data.draw(st.sampled_from([k for k, _ in pairs]))
    item = raw_map([*pairs, (key, data.draw(values))])
    for _ in range(depth):  # nested inside arrays and maps
        item = b"\x81" + item if data.draw(st.booleans()) else b"\xa1" + enc("k") + item
    with pytest.raises(CodeError) as e:
        decode_cbor(item, "item")
    assert e.value.verdict == "malformed" and "duplicate" in e.value.reason
    # The same map without the second entry decodes.
    assert decode_cbor(raw_map(pairs), "item") == d
