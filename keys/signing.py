"""Raw signatures as COSE and JWS carry them: ES256 as the 64-byte r‖s (not DER), EdDSA as 64 bytes.

cryptography speaks DER for ECDSA, so this is the one place that converts. A signature of any other
length simply does not verify. `verify_cose` covers the wider set a DCC signer may use (ECDSA with
SHA-256/384/512 on any curve, RSASSA-PSS), where an r‖s signature is sized by the key's curve.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from keys.keyfile import PrivateKey, PublicKey

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
# COSE algorithm id -> (key kind, hash): ES256/384/512, PS256/384/512.
COSE_SIGNATURE_ALGS: dict[int, tuple[str, hashes.HashAlgorithm]] = {
    -7: ("ec", hashes.SHA256()), -35: ("ec", hashes.SHA384()), -36: ("ec", hashes.SHA512()),
    -37: ("rsa", hashes.SHA256()), -38: ("rsa", hashes.SHA384()), -39: ("rsa", hashes.SHA512()),
}
# The signature schemes made once, not per verification.
_COSE_SCHEMES: dict[int, ec.ECDSA | padding.PSS] = {
    alg: ec.ECDSA(digest) if kind == "ec" else padding.PSS(padding.MGF1(digest), padding.PSS.AUTO)
    for alg, (kind, digest) in COSE_SIGNATURE_ALGS.items()
}


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


def verify_cose(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, alg: int, signature: bytes, data: bytes) -> bool:
    """True only for a valid COSE signature by `key` with COSE algorithm `alg` (a key of the other kind,
    or an ECDSA signature not exactly twice the curve's size, does not verify)."""
    scheme = _COSE_SCHEMES.get(alg)
    try:
        if isinstance(scheme, ec.ECDSA) and isinstance(key, ec.EllipticCurvePublicKey):
            n = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * n:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big"))
            key.verify(der, data, scheme)
        elif isinstance(scheme, padding.PSS) and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, scheme, COSE_SIGNATURE_ALGS[alg][1])
        else:
            return False
    except InvalidSignature:
        return False
    return True
