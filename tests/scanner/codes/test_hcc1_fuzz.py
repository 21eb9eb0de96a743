"""hypothesis fuzzing of the HCC1 decoder and verifier: only typed failures, never a forged `ok`."""

from __future__ import annotations

import time
import zlib

import base45
import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys.hcc1 import CodeClaims, issue_code
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.codes import CodeError, decode_payload
from scanner.verify import Verdict, verify_code

NOW = int(time.time())
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(st.text())
@FUZZ
def test_random_text_gives_typed_failures_only(text: str) -> None:
    try:
        decode_payload(text)
    except CodeError as e:
        assert e.verdict in ("unsupported", "malformed")


@given(st.text(alphabet=ALPHABET, max_size=600))
@FUZZ
def test_random_hcc1_bodies_give_typed_failures_only(body: str) -> None:
    try:
        decode_payload("HCC1:" + body)
    except CodeError as e:
        assert e.verdict in ("unsupported", "malformed")


@given(st.binary(max_size=800), st.booleans())
@FUZZ
def test_random_bytes_behind_a_valid_encoding(raw: bytes, compress: bool) -> None:
    body = zlib.compress(raw) if compress else raw
    try:
        decode_payload("HCC1:" + base45.b45encode(body).decode())
    except CodeError as e:
        assert e.verdict in ("unsupported", "malformed")


def _cbor_values() -> st.SearchStrategy:
    leaves = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.binary(max_size=20) | st.text(max_size=8)
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) |
                        st.dictionaries(st.integers(-70000, 10) | st.text(max_size=3), inner, max_size=5),
                        max_leaves=12)


@given(_cbor_values(), st.booleans())
@FUZZ
def test_random_cbor_structures(value: object, tag: bool) -> None:
    data = cbor2.dumps(cbor2.CBORTag(18, value) if tag else value)
    try:
        decode_payload("HCC1:" + base45.b45encode(zlib.compress(data)).decode())
    except CodeError as e:
        assert e.verdict in ("unsupported", "malformed")


def _trust(world) -> tuple[TrustStore, StatusStore]:
    from keys.keyfile import load_public_key

    trust = TrustStore.from_file(world.trust_list_path, [load_public_key(world.anchor_path)])
    status = StatusStore.open(":memory:")
    for p in world.status_list_paths:
        status.apply(p.read_bytes(), trust, str(p))
    return trust, status


@given(data=st.data())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_mutated_signed_code_is_never_ok(world, data: st.DataObject) -> None:
    trust, status = _trust(world)
    payload = world.payloads["green"]
    raw = bytearray(zlib.decompress(base45.b45decode(payload[5:])))
    # Flip, insert or delete bytes anywhere in the signed COSE message.
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        i = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[i] ^= data.draw(st.integers(1, 255))
        elif op == "insert":
            raw.insert(i, data.draw(st.integers(0, 255)))
        elif len(raw) > 1:
            del raw[i]
    mutated = "HCC1:" + base45.b45encode(zlib.compress(bytes(raw))).decode()
    result = verify_code(mutated, trust, status, NOW, max_code_age=86400)
    original = verify_code(payload, trust, status, NOW, max_code_age=86400)
    assert original.verdict is Verdict.OK
    if result.verdict is Verdict.OK:
        # Only a change that leaves the signed bytes and the signature identical may pass (e.g. an
        # unprotected-header edit that re-encodes to the same claims).
        from scanner.codes import decode_payload as dp

        a, b = dp(mutated), dp(payload)
        assert (a.signed_data, a.signature) == (b.signed_data, b.signature)


@given(st.sampled_from(["s", "t", "n", "sub"]), st.integers(0, 2))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_re_signed_claims_with_the_wrong_key_never_pass(world, field: str, value: int) -> None:
    trust, status = _trust(world)
    from keys.hcc1 import encode_payload, sign_cose
    from keys.keyfile import generate_key, kid_of

    claims = CodeClaims(iss="CN-ZJ", iat=NOW - 60, exp=NOW + 3600)
    cbor_map = claims.to_cbor_map()
    cbor_map[-65537][field] = {"s": value, "t": value % 2, "n": "X", "sub": bytes(16)}[field]
    forged = encode_payload(sign_cose(cbor_map, generate_key("ES256"), kid=kid_of(world.issuers["CN-ZJ"])))
    assert verify_code(forged, trust, status, NOW, max_code_age=86400).verdict is Verdict.BAD_SIGNATURE
    genuine = issue_code(world.issuers["CN-ZJ"], claims)
    assert verify_code(genuine, trust, status, NOW, max_code_age=86400).verdict is Verdict.OK
