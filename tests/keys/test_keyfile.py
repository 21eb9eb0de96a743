"""Public keys read and written by keys.keyfile's fast path equal what cryptography's own parsers make."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from keys.errors import KeyFileError
from keys.keyfile import generate_key, load_public_key_pem, load_spki_der, public_pem, spki_der

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_supported_keys_read_and_write_as_cryptography_does(alg) -> None:
    for _ in range(25):
        public = generate_key(alg).public_key()
        der = public.public_bytes(*SPKI)
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert spki_der(public) == der
        assert public_pem(public).encode() == pem
        for loaded in (load_spki_der(der), load_public_key_pem(pem), load_public_key_pem(pem.decode())):
            assert isinstance(loaded, ec.EllipticCurvePublicKey if alg == "ES256" else ed25519.Ed25519PublicKey)
            assert loaded.public_bytes(*SPKI) == der


def test_other_kinds_and_wrappings_go_to_cryptography() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(KeyFileError, match="P-256"):
        load_spki_der(p384.public_bytes(*SPKI))
    with pytest.raises(KeyFileError, match="not a PEM public key"):
        load_public_key_pem(b"-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n")
    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    pem_with_text = b"a comment\n" + ed.public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    assert load_public_key_pem(pem_with_text).public_bytes(*SPKI) == ed.public_bytes(*SPKI)


def test_a_point_off_the_curve_is_refused_with_cryptographys_message() -> None:
    der = bytearray(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(*SPKI))
    der[-1] ^= 1  # y no longer matches x
    with pytest.raises(ValueError):
        load_spki_der(bytes(der))
