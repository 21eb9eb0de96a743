"""The DCC revocation list: signed by the root, applied whole, looked up by all three hash types."""

from __future__ import annotations

import hashlib
import zlib

import base45
import cbor2
import pytest

from keys.dcc import payload_test
from keys.dccrevocation import revocation_hash, revocation_hashes, sign_dcc_revocation
from keys.errors import StatusListError
from keys.keyfile import generate_key
from keys.statusstore import StatusStore
from scanner.verify import Verdict, verify_code
from tests.helpers.dcc import NOW, DccWorld, code


@pytest.fixture(scope="module")
def world():
    w = DccWorld()
    w.add("DE")
    w.add("SE", kind="RSA-2048")
    return w


def signature_of(payload: str) -> bytes:
    return cbor2.loads(zlib.decompress(base45.b45decode(payload[4:]))).value[3]


def store_with(world, hashes, version=1) -> StatusStore:
    store = StatusStore.open(":memory:")
    doc = sign_dcc_revocation(world.root, hashes, version=version, issued_at=NOW - 60, next_update=NOW + 3600)
    store.apply(doc, world.trust())
    return store


@pytest.mark.parametrize("kind", ["UCI", "COUNTRYCODEUCI", "SIGNATURE"])
def test_revoked_by_each_hash_type(world, kind) -> None:
    trust = world.trust()
    for dsc in world.signers:
        payload = code(dsc, payload_test(dsc.country, f"URN:UVCI:01:{dsc.country}:R1"), iss=dsc.country)
        hashes = dict(revocation_hashes(f"URN:UVCI:01:{dsc.country}:R1", dsc.country, signature_of(payload),
                                        ecdsa=dsc.country == "DE"))
        store = store_with(world, [(kind, hashes[kind])])
        r = verify_code(payload, trust, store, NOW, max_code_age=0)
        assert r.verdict is Verdict.REVOKED and kind in r.reasons[0], (dsc.country, kind)
        other = code(dsc, payload_test(dsc.country, f"URN:UVCI:01:{dsc.country}:OK"), iss=dsc.country)
        assert verify_code(other, trust, store, NOW, max_code_age=0).verdict is Verdict.OK


def test_ecdsa_signature_hash_is_of_r_only(world) -> None:
    dsc = world.signers[0]
    payload = code(dsc)
    sig = signature_of(payload)
    # Another s with the same r (the malleable half) is still revoked.
    h = dict(revocation_hashes("", "DE", sig, ecdsa=True))["SIGNATURE"]
    assert h == dict(revocation_hashes("", "DE", sig[:32] + bytes(32), ecdsa=True))["SIGNATURE"]


def test_list_is_signed_by_an_anchor_and_rollback_protected(world) -> None:
    trust = world.trust()
    store = store_with(world, [("UCI", bytes(16))], version=2)
    with pytest.raises(StatusListError, match="not newer"):
        store.apply(sign_dcc_revocation(world.root, [], version=2, issued_at=NOW, next_update=NOW + 1), trust)
    with pytest.raises(StatusListError, match="pinned trust anchor"):
        store.apply(sign_dcc_revocation(generate_key("ES256"), [], version=3, issued_at=NOW, next_update=NOW + 1),
                    trust)
    assert store.dcc_revoked([("UCI", bytes(16))]) == "UCI"
    # A newer list replaces the old one whole: the earlier revocation is gone.
    store.apply(sign_dcc_revocation(world.root, [], version=3, issued_at=NOW, next_update=NOW + 1), trust)
    assert store.dcc_revoked([("UCI", bytes(16))]) is None
    # The same hash under another type is no match.
    store.apply(sign_dcc_revocation(world.root, [("SIGNATURE", bytes(16))], version=4, issued_at=NOW,
                                    next_update=NOW + 1), trust)
    assert store.dcc_revoked([("UCI", bytes(16))]) is None


def test_bad_hash_entries_are_refused(world) -> None:
    from keys.jws import sign
    payload = {"type": "hc-dccrevocation", "version": 1, "issued_at": NOW, "next_update": NOW + 1,
               "hashes": [{"type": "UCI", "hash": "AAAA"}]}
    with pytest.raises(StatusListError, match=r"hashes\[0\].hash is not 16 bytes"):
        StatusStore.open(":memory:").apply(sign(payload, world.root, "hc-dccrevocation+json"), world.trust())


def test_a_list_applied_by_another_connection_is_seen_at_once(world, tmp_path) -> None:
    # The kiosk's store keeps a filter of the list in memory; the sync agent applies lists through its own.
    trust = world.trust()
    dsc = world.signers[0]
    payload = code(dsc, payload_test("DE", "URN:UVCI:01:DE:AGENT"), iss="DE")
    uci_hash = dict(revocation_hashes("URN:UVCI:01:DE:AGENT", "DE", signature_of(payload), ecdsa=True))["UCI"]
    kiosk, agent = StatusStore.open(tmp_path / "status.sqlite"), StatusStore.open(tmp_path / "status.sqlite")

    def publish(hashes, version):
        agent.apply(sign_dcc_revocation(world.root, hashes, version=version, issued_at=NOW - 60,
                                        next_update=NOW + 3600), trust)

    def verdict():
        return verify_code(payload, trust, kiosk, NOW, max_code_age=0).verdict

    others = [("UCI", bytes([i]) * 16) for i in range(1, 200)]
    publish(others, 1)
    assert verdict() is Verdict.OK
    publish([*others, ("UCI", uci_hash)], 2)
    assert verdict() is Verdict.REVOKED
    publish(others, 3)
    assert verdict() is Verdict.OK
    # The kiosk's own apply is seen too.
    kiosk.apply(sign_dcc_revocation(world.root, [("UCI", uci_hash)], version=4, issued_at=NOW - 60,
                                    next_update=NOW + 3600), trust)
    assert verdict() is Verdict.REVOKED


def test_a_hash_the_filter_cannot_tell_apart_gets_the_exact_answer(world) -> None:
    # Same first 8 bytes (the filter's bit positions) as a listed hash: the filter says "maybe", SQLite "no".
    listed = bytes(range(16))
    store = store_with(world, [("UCI", listed)])
    assert store.dcc_revoked([("UCI", listed[:8] + bytes(8))]) is None
    assert store.dcc_revoked([("SIGNATURE", listed)]) is None  # listed under another type
    assert store.dcc_revoked([("SIGNATURE", bytes(16)), ("UCI", listed)]) == "UCI"


def test_the_three_hashes_are_the_schemes() -> None:
    sig = bytes(range(64))
    assert revocation_hashes("URN:UVCI:01:DE:Ä#1", "DE", sig, ecdsa=True) == (
        ("SIGNATURE", revocation_hash(sig[:32])), ("UCI", revocation_hash("URN:UVCI:01:DE:Ä#1".encode())),
        ("COUNTRYCODEUCI", revocation_hash("DEURN:UVCI:01:DE:Ä#1".encode())))
    assert revocation_hashes("", "DE", sig, ecdsa=False) == (("SIGNATURE", revocation_hash(sig)),)
    assert revocation_hash(b"x") == hashlib.sha256(b"x").digest()[:16]
