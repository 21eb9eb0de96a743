"""Raw signatures as COSE and JWS carry them: ES256 as the 64-byte r‖s (not DER), EdDSA as 64 bytes.

cryptography speaks DER for ECDSA, so this is the one place that converts. A signature of any other
length simply does not verify.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from keys.keyfile import PrivateKey, PublicKey

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def sign_raw(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, _ECDSA_SHA256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return key.sign(data)


def verify_raw(key: PublicKey, signature: bytes, data: bytes) -> bool:
    """True only for a valid signature of the exact expected length for the key's algorithm."""
    if len(signature) != 64:
        return False
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                       int.from_bytes(signature[32:], "big"))
            key.verify(der, data, _ECDSA_SHA256)
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True
