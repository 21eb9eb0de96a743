"""Raw signatures as COSE and JWS carry them: ES256 as the 64-byte r‖s (not DER), EdDSA as 64 bytes.

cryptography speaks DER for ECDSA, so this is the one place that converts. A signature of any other
length simply does not verify. `verify_cose` covers the wider set a DCC signer may use (ECDSA with
SHA-256/384/512 on any curve, RSASSA-PSS), where an r‖s signature is sized by the key's curve.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature

from keys.keyfile import PrivateKey, PublicKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import padding, rsa


class Ecdsa(ec.ECDSA):
    """ECDSA with a given hash, randomised signing: cryptography's own constructor imports its whole OpenSSL
    backend module (about 20 ms, a tenth of a one-shot `checkpoint check`) only to ask whether deterministic
    signing is available, which this project never uses. cryptography reads the public `algorithm` and
    `deterministic_signing` properties, which this class answers itself."""

    def __init__(self, algorithm: Prehashed | hashes.HashAlgorithm) -> None:  # no super().__init__(): see above
        self._hash = algorithm

    @property
    def algorithm(self) -> Prehashed | hashes.HashAlgorithm:
        return self._hash

    @property
    def deterministic_signing(self) -> bool:
        return False


_ECDSA_SHA256 = Ecdsa(hashes.SHA256())
_ECDSA_PREHASHED_SHA256 = Ecdsa(Prehashed(hashes.SHA256()))
# COSE algorithm id -> (key kind, hash): ES256/384/512, PS256/384/512.
COSE_SIGNATURE_ALGS: dict[int, tuple[str, hashes.HashAlgorithm]] = {
    -7: ("ec", hashes.SHA256()), -35: ("ec", hashes.SHA384()), -36: ("ec", hashes.SHA512()),
    -37: ("rsa", hashes.SHA256()), -38: ("rsa", hashes.SHA384()), -39: ("rsa", hashes.SHA512()),
}
# The kind of a key by its concrete type (`key_kind`): isinstance against cryptography's key ABCs is a
# Python-level call each time, and for its Rust key types the answer is not cached.
_KEY_KINDS: dict[type, str] = {}


@cache
def _cose_scheme(alg: int) -> Ecdsa | padding.PSS | None:
    """A COSE algorithm's signature scheme, made once, not per verification. cryptography's RSA modules
    (and the random module they load) are imported only for a DCC signed with RSA."""
    if alg not in COSE_SIGNATURE_ALGS:
        return None
    kind, digest = COSE_SIGNATURE_ALGS[alg]
    if kind == "ec":
        return Ecdsa(digest)
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PSS(padding.MGF1(digest), padding.PSS.AUTO)


def sign_raw(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, _ECDSA_SHA256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return key.sign(data)


def verify_raw(key: PublicKey, signature: bytes, data: bytes) -> bool:
    """True only for a valid signature of the exact expected length for the key's algorithm."""
    if len(signature) != 64:
        return False
    kind = _KEY_KINDS.get(type(key)) or key_kind(key)
    try:
        if kind == "ec":
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                       int.from_bytes(signature[32:], "big"))
            cast(ec.EllipticCurvePublicKey, key).verify(der, data, _ECDSA_SHA256)
        elif kind == "ed25519":
            cast(ed25519.Ed25519PublicKey, key).verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


class SigningInput:
    """The bytes a JWS signature covers, taken a piece at a time, for a document too large to hold.

    ES256 signs the SHA-256 of the bytes, so they are hashed as they come and never held. Ed25519 has no
    such form (it hashes the message twice, with the key in between), so for EdDSA the bytes are kept.
    """

    def __init__(self, alg: str):
        self.alg = alg
        self._hash = hashes.Hash(hashes.SHA256()) if alg == "ES256" else None
        self._kept = bytearray()

    def update(self, data: bytes) -> None:
        if self._hash is not None:
            self._hash.update(data)
        else:
            self._kept += data

    def sign(self, key: PrivateKey) -> bytes:
        """The raw signature (ES256 r‖s, or EdDSA) of the bytes taken, by `key` of this algorithm."""
        if self._hash is None:
            return key.sign(bytes(self._kept)) if isinstance(key, ed25519.Ed25519PrivateKey) else b""
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            return b""
        r, s = decode_dss_signature(key.sign(self._hash.finalize(), _ECDSA_PREHASHED_SHA256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verifier(self) -> Callable[[PublicKey, bytes], bool]:
        """`verify(key, signature)` for the bytes taken (ends the taking), like `verify_raw`'s answer."""
        if self._hash is None:
            data = bytes(self._kept)
            self._kept = bytearray()
            return lambda key, signature: self.alg == "EdDSA" and verify_raw(key, signature, data)
        digest = self._hash.finalize()

        def verify(key: PublicKey, signature: bytes) -> bool:
            if len(signature) != 64 or not isinstance(key, ec.EllipticCurvePublicKey):
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            try:
                key.verify(der, digest, _ECDSA_PREHASHED_SHA256)
            except InvalidSignature:
                return False
            return True

        return verify


def key_kind(key: object) -> str:
    """"ec", "ed25519", "rsa" or "" for a public key, by its concrete type (cached)."""
    kind = _KEY_KINDS.get(type(key))
    if kind is None:
        if isinstance(key, ec.EllipticCurvePublicKey):
            kind = "ec"
        elif isinstance(key, ed25519.Ed25519PublicKey):
            kind = "ed25519"
        else:
            # Loaded only here: a check of codes signed with EC keys never needs cryptography's RSA modules.
            from cryptography.hazmat.primitives.asymmetric import rsa

            kind = "rsa" if isinstance(key, rsa.RSAPublicKey) else ""
        _KEY_KINDS[type(key)] = kind
    return kind


def verify_cose(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, alg: int, signature: bytes, data: bytes) -> bool:
    """True only for a valid COSE signature by `key` with COSE algorithm `alg` (a key of the other kind, a key
    too small for the algorithm, or an ECDSA signature not exactly twice the curve's size, does not verify)."""
    scheme = _cose_scheme(alg)
    kind = key_kind(key)
    try:
        if kind == "ec" and isinstance(scheme, ec.ECDSA):
            n = (cast(ec.EllipticCurvePublicKey, key).key_size + 7) // 8
            if len(signature) != 2 * n:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big"))
            cast(ec.EllipticCurvePublicKey, key).verify(der, data, scheme)
        elif kind == "rsa" and scheme is not None and not isinstance(scheme, ec.ECDSA):  # PSS
            cast("rsa.RSAPublicKey", key).verify(signature, data, scheme, COSE_SIGNATURE_ALGS[alg][1])
        else:
            return False
    except InvalidSignature:
        return False
    except ValueError:
        # A key too small for the algorithm (an RSA key that cannot hold a PSS encoding with this hash):
        # no signature by it can be valid.
        return False
    return True
