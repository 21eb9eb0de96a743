"""The EU DCC revocation list: hashes of revoked certificates, signed by the national root like the trust list.

The DCC revocation scheme names a revoked certificate by one of three truncated SHA-256 hashes (the first
16 bytes): of its UCI (`UCI`), of its issuing country code followed by the UCI (`COUNTRYCODEUCI`), or of
its COSE signature (`SIGNATURE`; for ECDSA only the r half, which a re-encoding of s cannot change). A
member state publishes each revocation under one of them, so a verifier looks all three up. Here the
national platform collects them into one list (JWS, `typ` `hc-dccrevocation+json`, verified against the
pinned anchors, rollback-protected by its version in the status store); the status store holds it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from hashlib import sha256

from keys import jws
from keys.errors import StatusListError, TrustListError
from keys.jsontypes import JsonObject, SignedJson
from keys.keyfile import PrivateKey, PublicKey
from keys.statuslist import DCC_REVOCATION_TYP
from keys.trustlist import b64decode_strict, is_int, verify_envelope

HASH_TYPES = ("UCI", "COUNTRYCODEUCI", "SIGNATURE")
HASH_BYTES = 16


def revocation_hash(data: bytes) -> bytes:
    """The scheme's hash: the first 16 bytes of SHA-256."""
    return sha256(data).digest()[:HASH_BYTES]


def revocation_hashes(uci: str, country: str, signature: bytes, ecdsa: bool) -> tuple[tuple[str, bytes], ...]:
    """The (type, hash) pairs under which a certificate may be revoked."""
    # `revocation_hash` written out: this runs for every DCC checked.
    sig = sha256(signature[:len(signature) // 2] if ecdsa else signature).digest()[:HASH_BYTES]
    if not uci:
        return (("SIGNATURE", sig),)
    u = uci.encode()
    return (("SIGNATURE", sig), ("UCI", sha256(u).digest()[:HASH_BYTES]),
            ("COUNTRYCODEUCI", sha256(country.encode() + u).digest()[:HASH_BYTES]))


@dataclass(frozen=True)
class DccRevocationList:
    version: int
    issued_at: int
    next_update: int
    hashes: tuple[tuple[str, bytes], ...]
    source: str = "<dcc revocation list>"


def is_dcc_revocation(doc: SignedJson) -> bool:
    """True when a signed document's header says it is a DCC revocation list (and not a status list)."""
    try:
        return jws.parse(doc).header.get("typ") == DCC_REVOCATION_TYP
    except ValueError:
        return False


def verify_dcc_revocation(doc: SignedJson, anchors: Sequence[PublicKey],
                          source: str = "<dcc revocation list>") -> DccRevocationList:
    def bad(reason: str) -> StatusListError:
        return StatusListError(source, reason)

    try:
        payload, _ = verify_envelope(doc, anchors, DCC_REVOCATION_TYP, source)
    except TrustListError as e:
        raise bad(e.reason) from None
    if payload.get("type") != "hc-dccrevocation":
        raise bad(f"payload type is {payload.get('type')!r}, expected 'hc-dccrevocation'")
    for name in ("version", "issued_at", "next_update"):
        if not is_int(payload.get(name)):
            raise bad(f"{name} missing or not an integer from 0 to 2^63-1")
    entries = payload.get("hashes")
    if not isinstance(entries, list):
        raise bad("hashes missing or not a list")
    hashes = []
    try:
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or entry.get("type") not in HASH_TYPES:
                raise ValueError(f"hashes[{i}]: type is not one of {', '.join(HASH_TYPES)}")
            h = b64decode_strict(entry.get("hash"), f"hashes[{i}].hash")
            if len(h) != HASH_BYTES:
                raise ValueError(f"hashes[{i}].hash is not {HASH_BYTES} bytes")
            hashes.append((str(entry["type"]), h))
    except ValueError as e:
        raise bad(str(e)) from None
    return DccRevocationList(version=payload["version"], issued_at=payload["issued_at"],
                             next_update=payload["next_update"], hashes=tuple(hashes), source=source)


def sign_dcc_revocation(root: PrivateKey, hashes: Iterable[tuple[str, bytes]], *, version: int, issued_at: int,
                        next_update: int) -> dict[str, str]:
    payload: JsonObject = {"type": "hc-dccrevocation", "version": version, "issued_at": issued_at,
                           "next_update": next_update,
                           "hashes": [{"type": t, "hash": base64.b64encode(h).decode()} for t, h in hashes]}
    return jws.sign(payload, root, DCC_REVOCATION_TYP)
