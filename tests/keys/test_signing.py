"""keys.signing: raw ES256 signatures, made with the project's own ECDSA scheme object, interoperate with
cryptography's stock ECDSA both ways, and wrong or damaged signatures are refused."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature

from keys.keyfile import generate_key
from keys.signing import Ecdsa, sign_raw, verify_raw


def test_raw_signature_verifies_with_cryptographys_own_ecdsa() -> None:
    key = generate_key("ES256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    sig = sign_raw(key, b"payload")
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key.public_key().verify(der, b"payload", ec.ECDSA(hashes.SHA256()))  # raises if not valid


def test_stock_ecdsa_signature_verifies_as_raw_and_damage_is_refused() -> None:
    key = generate_key("ES256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(key.sign(b"payload", ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert verify_raw(key.public_key(), raw, b"payload")
    assert not verify_raw(key.public_key(), raw, b"payloaD")
    assert not verify_raw(key.public_key(), raw[:-1] + bytes([raw[-1] ^ 1]), b"payload")
    assert not verify_raw(generate_key("ES256").public_key(), raw, b"payload")


def test_scheme_object_answers_what_cryptography_reads() -> None:
    scheme = Ecdsa(Prehashed(hashes.SHA256()))
    assert isinstance(scheme, ec.ECDSA)
    assert isinstance(scheme.algorithm, Prehashed) and scheme.deterministic_signing is False
    key = generate_key("ES256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"payload")
    der = key.sign(digest.finalize(), scheme)
    key.public_key().verify(der, b"payload", Ecdsa(hashes.SHA256()))
