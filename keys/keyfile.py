"""Key pairs for the issuer side and pinned trust anchors: generate, write, load, key ids.

Private keys are PKCS#8 PEM written with mode 0600 (optionally encrypted with a passphrase); public
keys and anchors are SubjectPublicKeyInfo PEM. The key id (kid) is the first 8 bytes of SHA-256 over
the SPKI DER, as `docs/format.md` §1.4 defines it.

Public keys of the two supported kinds are read and written without `cryptography`'s serialization
package, whose import (it loads its SSH and cipher modules) was a fifth of `checkpoint check`'s start:
a P-256 or Ed25519 SubjectPublicKeyInfo is a fixed DER header followed by the key's point or bytes, so
the header is compared byte for byte and the rest handed to `cryptography`'s own constructors, which
check the point. Anything else (another curve, another encoding of the same key) goes to
`cryptography`'s parsers, so no key reads differently (tests/keys/test_keyfile.py holds them equal).
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from keys.errors import KeyFileError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

Alg = Literal["ES256", "EdDSA"]
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
ALGS: tuple[Alg, ...] = ("ES256", "EdDSA")

# SubjectPublicKeyInfo headers (RFC 5480 id-ecPublicKey with prime256v1 and a 65-byte uncompressed point;
# RFC 8410 id-Ed25519 with a 32-byte key).
_P256_SPKI = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
_ED25519_SPKI = bytes.fromhex("302a300506032b6570032100")
_PEM_BEGIN, _PEM_END = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"


def generate_key(alg: Alg = "ES256") -> PrivateKey:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise KeyFileError(f"unknown algorithm {alg!r}: use ES256 or EdDSA")


def alg_of(key: PrivateKey | PublicKey) -> Alg:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyFileError(f"EC key on curve {key.curve.name}: only P-256 (ES256) is supported")
        return "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA"
    raise KeyFileError(f"unsupported key type {type(key).__name__}: use ES256 (P-256) or EdDSA (Ed25519)")


def spki_der(key: PublicKey) -> bytes:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return _ED25519_SPKI + key.public_bytes_raw()
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        n = key.public_numbers()
        return _P256_SPKI + b"\x04" + n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_of(key: PublicKey | PrivateKey) -> PublicKey:
    if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        return key.public_key()
    return key


def kid_of(key: PublicKey | PrivateKey) -> bytes:
    # cryptography's SHA-256: hashlib would load a second OpenSSL binding at start-up for this alone.
    h = hashes.Hash(hashes.SHA256())
    h.update(spki_der(public_of(key)))
    return h.finalize()[:8]


def public_pem(key: PrivateKey | PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return public_of(key).public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_pem(key: PrivateKey | rsa.RSAPrivateKey, passphrase: str | None = None) -> bytes:
    from cryptography.hazmat.primitives import serialization

    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def refuse_overwrite(paths: tuple[Path, ...], force: bool) -> None:
    """A key-writing command never replaces existing key material unless told to (`--force`)."""
    for p in paths:
        if p.exists() and not force:
            raise KeyFileError(f"{p} exists; use --force to overwrite")


def write_private_key(path: str | Path, key: PrivateKey | rsa.RSAPrivateKey, passphrase: str | None = None) -> Path:
    """Write PKCS#8 PEM with mode 0600 from the first byte on (never readable by others, even briefly)."""
    p = Path(path)
    data = private_pem(key, passphrase)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)
    return p


def write_public_key(path: str | Path, key: PrivateKey | PublicKey) -> Path:
    p = Path(path)
    p.write_text(public_pem(key))
    return p


def load_private_key(path: str | Path, passphrase: str | None = None) -> PrivateKey:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise KeyFileError(f"{p}: cannot read private key: {e.strerror}") from None
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(data, passphrase.encode() if passphrase else None)
    except TypeError:
        raise KeyFileError(f"{p}: the private key is encrypted: give its passphrase") from None
    except ValueError as e:
        raise KeyFileError(f"{p}: not a readable PEM private key (or wrong passphrase): {e}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyFileError(f"{p}: unsupported key type {type(key).__name__}")
    alg_of(key)
    return key


def load_public_key_pem(data: bytes | str, source: str = "<pem>") -> PublicKey:
    raw = data.encode() if isinstance(data, str) else data
    known = _known_spki(_pem_body(raw))
    if known is not None:
        return known
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(raw)
    except ValueError as e:
        raise KeyFileError(f"{source}: not a PEM public key (SubjectPublicKeyInfo): {e}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise KeyFileError(f"{source}: unsupported key type {type(key).__name__}")
    alg_of(key)
    return key


def load_public_key(path: str | Path) -> PublicKey:
    """Load an SPKI PEM public key, such as a pinned trust anchor."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise KeyFileError(f"{p}: cannot read public key: {e.strerror}") from None
    return load_public_key_pem(data, str(p))


def load_spki_der(der: bytes) -> PublicKey:
    known = _known_spki(der)
    if known is not None:
        return known
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise ValueError(f"unsupported key type {type(key).__name__}")
    alg_of(key)
    return key


def _pem_body(raw: bytes) -> bytes | None:
    """The DER inside a PEM file holding one public key and nothing else, or None (then cryptography reads it)."""
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    if not (text.startswith(_PEM_BEGIN) and text.endswith(_PEM_END)):
        return None
    body = "".join(text[len(_PEM_BEGIN):-len(_PEM_END)].split())
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None


def _known_spki(der: bytes | None) -> PublicKey | None:
    """A P-256 or Ed25519 key from its SubjectPublicKeyInfo DER, or None for anything else."""
    if der is None:
        return None
    try:
        if len(der) == len(_P256_SPKI) + 65 and der.startswith(_P256_SPKI):
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), der[len(_P256_SPKI):])
        if len(der) == len(_ED25519_SPKI) + 32 and der.startswith(_ED25519_SPKI):
            return ed25519.Ed25519PublicKey.from_public_bytes(der[len(_ED25519_SPKI):])
    except ValueError:
        return None  # not a point on the curve: cryptography's parser gives the error
    return None
