"""Where the format text is silent: the interpretations documented in docs/verification.md."""

from __future__ import annotations

import base64
import json
import os
import zlib

import base45
import cbor2
import pytest

from keys.hcc1 import CodeClaims, encode_payload, issue_code, sign_cose
from keys.jws import b64url_decode
from keys.keyfile import generate_key
from keys.publishing import KeyEntry, sign_status_list, sign_trust_list
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.verify import Status, Verdict, verify_code

NOW = 1_800_000_000


@pytest.fixture(scope="module")
def env():
    root, zj = generate_key("ES256"), generate_key("ES256")
    entry = KeyEntry(zj.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - 10**6, not_after=NOW + 10**6)
    trust = TrustStore.from_document(sign_trust_list(root, [entry], version=1, issued_at=NOW, next_update=NOW + 60),
                                     [root.public_key()])
    return root, zj, trust


def check(trust, payload, status=None, now=NOW):
    return verify_code(payload, trust, status, now, max_code_age=86400)


def claims(**kw) -> CodeClaims:
    return CodeClaims(iss="CN-ZJ", iat=NOW - 60, exp=NOW + 3600, **kw)


def test_guardian_relation_out_of_range_is_malformed(env) -> None:
    _, zj, trust = env
    assert check(trust, issue_code(zj, claims(guardian=("李*华", 7, os.urandom(16))))).verdict is Verdict.MALFORMED
    for rel in (1, 2, 3, 4, 5, 6, 9):
        assert check(trust, issue_code(zj, claims(guardian=("李*华", rel, os.urandom(16))))).verdict is Verdict.OK


def test_guardian_pseudonym_is_required(env) -> None:
    # docs/format.md §2.3: g holds n, r and sub; only g itself is optional (§2.2), and a missing required key is
    # malformed (§2.4).
    _, zj, trust = env
    c = claims()
    m = c.to_cbor_map()
    for g in ({"n": "李*华", "r": 1}, {"n": "李*华", "r": 1, "sub": b"short"}, {"n": "李*华", "r": 1, "sub": None}):
        m[-65537]["g"] = g
        r = check(trust, encode_payload(sign_cose(m, zj)))
        assert r.verdict is Verdict.MALFORMED and "g.sub" in r.reasons[0]
    m[-65537]["g"] = {"n": "李*华", "r": 1, "sub": b"\x07" * 16}
    r = check(trust, encode_payload(sign_cose(m, zj)))
    assert r.verdict is Verdict.OK and r.guardian.subject == b"\x07" * 16


def test_unknown_claims_version_wins_over_other_claim_problems(env) -> None:
    _, zj, trust = env
    m = claims(version=2).to_cbor_map()
    del m[-65537]["s"]
    r = check(trust, encode_payload(sign_cose(m, zj)))
    assert r.verdict is Verdict.UNSUPPORTED and "version 2" in r.reasons[0]


def test_trailing_bytes_after_zlib_stream_are_malformed(env) -> None:
    _, zj, trust = env
    cose = sign_cose(claims().to_cbor_map(), zj)
    payload = "HCC1:" + base45.b45encode(zlib.compress(cose) + b"\x00").decode()
    assert check(trust, payload).verdict is Verdict.MALFORMED


def test_bool_is_not_an_integer(env) -> None:
    _, zj, trust = env
    m = claims().to_cbor_map()
    m[-65537]["s"] = True
    assert check(trust, encode_payload(sign_cose(m, zj))).verdict is Verdict.MALFORMED


def test_indefinite_length_items_are_accepted(env) -> None:
    _, zj, trust = env
    cose = cbor2.loads(sign_cose(claims().to_cbor_map(), zj)).value
    # Re-encode the outer array as an indefinite-length array: 0x9f ... 0xff.
    body = b"\xd2\x9f" + b"".join(cbor2.dumps(x) for x in cose) + b"\xff"
    assert check(trust, encode_payload(body, compress=False)).verdict is Verdict.OK


def test_expiry_has_no_skew_but_issue_time_has(env) -> None:
    _, zj, trust = env
    c = CodeClaims(iss="CN-ZJ", iat=NOW + 299, exp=NOW + 1000)
    assert check(trust, issue_code(zj, c)).verdict is Verdict.OK
    c = CodeClaims(iss="CN-ZJ", iat=NOW - 100, exp=NOW - 1)
    assert check(trust, issue_code(zj, c)).verdict is Verdict.EXPIRED
    c = CodeClaims(iss="CN-ZJ", iat=NOW - 100, exp=NOW)
    assert check(trust, issue_code(zj, c)).verdict is Verdict.OK


def test_a_stale_list_still_turns_a_personal_code_red(env) -> None:
    _, zj, trust = env
    b = os.urandom(16)
    store = StatusStore.open()
    store.apply(sign_status_list(zj, issuer="CN-ZJ", version=1, issued_at=NOW - 7200, next_update=NOW - 3600,
                                 subjects=[(b, 2, NOW - 30)]), trust)
    r = check(trust, issue_code(zj, claims(sub=b)), store)
    assert (r.verdict, r.status) == (Verdict.OK, Status.RED)
    # ... but a printed card needs a fresh list.
    assert check(trust, issue_code(zj, claims(sub=b, card=True)), store).verdict is Verdict.STATUS_UNVERIFIED


def test_a_snapshot_s_green_entry_is_an_entry_and_a_delta_s_removes_one(env) -> None:
    # docs/format.md §4.3: "In a delta, `s: 0` returns a subject to green: the device removes its entry" - said
    # of deltas only. In a snapshot an `s: 0` entry is a status-list entry like any other, and §4.5 lets it
    # win over a personal code issued before its `sd` (the holder recovered after the red code was issued).
    _, zj, trust = env
    newer, older, cleared = os.urandom(16), os.urandom(16), os.urandom(16)
    store = StatusStore.open()
    store.apply(sign_status_list(zj, issuer="CN-ZJ", version=1, issued_at=NOW - 10, next_update=NOW + 3600,
                                 subjects=[(newer, 0, NOW - 30), (older, 0, NOW - 90), (cleared, 2, NOW - 90)]),
                trust)
    assert store.lookup("CN-ZJ", newer) == (0, NOW - 30)
    r = check(trust, issue_code(zj, claims(sub=newer, status=2)), store)  # issued at NOW - 60
    assert (r.verdict, r.status) == (Verdict.OK, Status.GREEN), "the green entry is newer than the red code"
    r = check(trust, issue_code(zj, claims(sub=older, status=2)), store)
    assert (r.verdict, r.status) == (Verdict.OK, Status.RED), "the code is newer than the green entry"
    for sub in (newer, older):  # a printed card: the entry always wins
        r = check(trust, issue_code(zj, claims(sub=sub, status=2, card=True)), store)
        assert (r.verdict, r.status) == (Verdict.OK, Status.GREEN)
    # A delta's s: 0 removes the entry: a red code issued before it keeps its own status; a card is green.
    store.apply(sign_status_list(zj, issuer="CN-ZJ", version=2, base=1, issued_at=NOW - 5, next_update=NOW + 3600,
                                 subjects=[(cleared, 0, NOW - 20)]), trust)
    assert store.lookup("CN-ZJ", cleared) is None
    r = check(trust, issue_code(zj, claims(sub=cleared, status=2)), store)
    assert (r.verdict, r.status) == (Verdict.OK, Status.RED)
    r = check(trust, issue_code(zj, claims(sub=cleared, status=2, card=True)), store)
    assert (r.verdict, r.status) == (Verdict.OK, Status.GREEN)


def test_bad_trust_list_entry_is_skipped_not_fatal(env) -> None:
    root, zj, _ = env
    good = KeyEntry(zj.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - 10, not_after=NOW + 10)
    doc = sign_trust_list(root, [good], version=2, issued_at=NOW, next_update=NOW + 60)
    payload = json.loads(b64url_decode(doc["payload"]))
    payload["keys"].append({**payload["keys"][0], "spki": base64.b64encode(b"not a key").decode(), "issuer": "CN-SH"})
    from keys import jws

    store = TrustStore.from_document(jws.sign(payload, root, "hc-trustlist+json"), [root.public_key()])
    assert store.issuers() == ["CN-ZJ"] and len(store.current.skipped) == 1


def test_a_kid_in_the_unprotected_header_is_malformed_even_beside_a_protected_one(env) -> None:
    # Unsigned, and a verifier reading it first would look up another key: docs/format.md §1.3.
    _, zj, trust = env
    from keys.keyfile import kid_of
    from keys.signing import sign_raw

    protected, payload = cbor2.dumps({1: -7, 4: kid_of(zj)}), cbor2.dumps(claims().to_cbor_map())
    sig = sign_raw(zj, cbor2.dumps(["Signature1", protected, b"", payload]))
    for unprotected in ({4: kid_of(zj)}, {4: b"\x00" * 8}):
        r = check(trust, encode_payload(cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, sig]))))
        assert r.verdict is Verdict.MALFORMED and "unprotected" in r.reasons[0]
    # The same header and signature without it: the refusal was not cached against the protected bytes.
    assert check(trust, encode_payload(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, sig])))).ok
    r = check(trust, encode_payload(cbor2.dumps(cbor2.CBORTag(18, [protected, {4: kid_of(zj)}, payload, sig]))))
    assert r.verdict is Verdict.MALFORMED


HEADERS = {  # protected map, unprotected map, and the verdict the header alone earns
    "good": ({1: -7, "kid": True}, {}, None),
    "kid only unprotected": ({1: -7}, {"kid": True}, "malformed"),
    "no alg": ({"kid": True}, {}, "malformed"),
    "alg as text": ({1: "ES256", "kid": True}, {}, "unsupported"),  # RFC 9052: an alg is an int or a text
    "alg as bytes": ({1: b"\x26", "kid": True}, {}, "malformed"),
    "unknown critical header": ({1: -7, "kid": True, 2: [99], 99: 0}, {}, "unsupported"),
    "crit not a list": ({1: -7, "kid": True, 2: 99}, {}, "malformed"),
    "alg in both headers": ({1: -7, "kid": True}, {1: -7}, "malformed"),
    "kid as text": ({1: -7, 4: "kid"}, {}, "malformed"),
    "unknown alg": ({1: -35, "kid": True}, {}, "unsupported"),
    "unknown alg, kid unprotected": ({1: -35}, {"kid": True}, "unsupported"),
}
CLAIMS = {  # a change to the hc map, and the verdict the claims alone earn
    "good": ({}, None),
    "version 2": ({"v": 2}, "unsupported"),
    "version 2 without s": ({"v": 2, "s": None}, "unsupported"),
    "no s": ({"s": None}, "malformed"),
    "s out of range": ({"s": 3}, "malformed"),
}


@pytest.mark.parametrize("claims_case", CLAIMS)
@pytest.mark.parametrize("header_case", HEADERS)
def test_the_first_verdict_in_the_spec_s_order_wins_between_header_and_claims(env, header_case, claims_case) -> None:
    # docs/format.md §5: unsupported (unknown alg, unknown claims version) comes before malformed, whichever
    # part of the code each problem is in.
    _, zj, trust = env
    from keys.keyfile import kid_of
    from keys.signing import sign_raw

    prot, unprot, header_verdict = HEADERS[header_case]
    change, claims_verdict = CLAIMS[claims_case]

    def with_kid(m: dict) -> dict:
        return {(4 if k == "kid" else k): (kid_of(zj) if k == "kid" else v) for k, v in m.items()}

    m = claims().to_cbor_map()
    for k, v in change.items():
        if v is None:
            del m[-65537][k]
        else:
            m[-65537][k] = v
    protected, payload = cbor2.dumps(with_kid(prot)), cbor2.dumps(m)
    sig = sign_raw(zj, cbor2.dumps(["Signature1", protected, b"", payload]))
    r = check(trust, encode_payload(cbor2.dumps(cbor2.CBORTag(18, [protected, with_kid(unprot), payload, sig]))))
    verdicts = {header_verdict, claims_verdict} - {None}
    expected = next((v for v in ("unsupported", "malformed") if v in verdicts), "ok")
    assert r.verdict.value == expected, r.reasons


@pytest.mark.parametrize("noise", ["\ufeff", " \ufeff", "\ufeff\r\n", "\t"])
def test_a_byte_order_mark_around_the_payload_is_noise_like_whitespace(env, noise) -> None:
    # A payload file saved by a Windows editor starts with one (docs/format.md §1: surrounding noise).
    _, zj, trust = env
    assert check(trust, noise + issue_code(zj, claims()) + noise).ok


def test_a_byte_order_mark_inside_the_payload_is_not_noise(env) -> None:
    _, zj, trust = env
    p = issue_code(zj, claims())
    assert check(trust, p[:20] + "\ufeff" + p[20:]).verdict is Verdict.MALFORMED


@pytest.mark.parametrize(("name", "long"), [("", False), ("张*三", False), ("x" * 200, True), ("y" * 3000, True)])
def test_the_signed_bytes_are_the_whole_sig_structure_encoded(env, name: str, long: bool) -> None:
    # The Sig_structure's head is kept per protected header and the payload's byte string follows it:
    # a payload under 256 bytes has a 2-byte head, a longer one a 3-byte head.
    _, zj, trust = env
    from scanner.codes import decode_payload

    text = issue_code(zj, claims(name=name))
    cose = cbor2.loads(zlib.decompress(base45.b45decode(text[len("HCC1:"):])))
    protected, _, payload, _ = cose.value if isinstance(cose, cbor2.CBORTag) else cose
    assert (len(payload) > 255) == long
    assert decode_payload(text).signed_data == cbor2.dumps(["Signature1", protected, b"", payload])
    assert check(trust, text).verdict is Verdict.OK
