"""The trust list: the national platform's signed list of every region's keys, and the store that caches it.

A list is accepted only if its JWS signature verifies against a pinned anchor (the national root SPKI
in the device configuration). A persisted store additionally refuses a list whose version is not
greater than the cached one, so an old list cannot be replayed to bring back a withdrawn key. A refused
list always leaves the cached one in place.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from keys import jws
from keys.durable import atomic_write
from keys.errors import RollbackError, TrustListError
from keys.keyfile import PublicKey, alg_of, kid_of, load_spki_der
from keys.localtext import LocalText
from keys.signing import verify_raw

log = logging.getLogger(__name__)

TRUST_TYP = "hc-trustlist+json"
USES = ("code", "status")


@dataclass(frozen=True)
class TrustKey:
    kid: bytes
    issuer: str
    name: LocalText
    alg: str
    public_key: PublicKey
    use: frozenset[str]
    not_before: int
    not_after: int

    def valid_at(self, t: int) -> bool:
        return self.not_before <= t <= self.not_after


def b64decode_strict(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None


def is_int(v: Any) -> TypeGuard[int]:
    """An integer in JSON terms: `true` is not 1."""
    return isinstance(v, int) and not isinstance(v, bool)


def verify_envelope(doc: dict[str, Any] | bytes | str, anchors: Sequence[PublicKey], typ: str,
                    source: str) -> tuple[dict[str, Any], PublicKey]:
    """Check a JWS against a set of candidate signer keys; return the JSON payload and the signer."""
    try:
        parts = jws.parse(doc)
    except ValueError as e:
        raise TrustListError(source, f"not a valid JWS: {e}") from None
    alg = parts.header.get("alg")
    if alg not in ("ES256", "EdDSA"):
        raise TrustListError(source, f"unsupported alg {alg!r}")
    if parts.header.get("typ") != typ:
        raise TrustListError(source, f"typ is {parts.header.get('typ')!r}, expected {typ!r}")
    candidates = [a for a in anchors if alg_of(a) == alg]
    if parts.kid is not None:
        candidates = [a for a in candidates if kid_of(a) == parts.kid]
    signer = next((a for a in candidates if verify_raw(a, parts.signature, parts.signing_input)), None)
    if signer is None:
        raise TrustListError(source, "signature does not verify against any pinned trust anchor")
    try:
        payload = json.loads(parts.payload)
    except (ValueError, UnicodeDecodeError):
        raise TrustListError(source, "payload is not JSON") from None
    if not isinstance(payload, dict):
        raise TrustListError(source, "payload is not a JSON object")
    return payload, signer


def _parse_key(entry: Any) -> TrustKey:
    if not isinstance(entry, dict):
        raise ValueError("key entry is not an object")
    kid = b64decode_strict(entry.get("kid"), "kid")
    issuer = entry.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise ValueError("issuer missing")
    alg = entry.get("alg")
    if alg not in ("ES256", "EdDSA"):
        raise ValueError(f"unsupported alg {alg!r}")
    pub = load_spki_der(b64decode_strict(entry.get("spki"), "spki"))
    if alg_of(pub) != alg:
        raise ValueError(f"alg {alg} does not match the key type")
    use = entry.get("use")
    if not isinstance(use, list) or not all(isinstance(u, str) for u in use):
        raise ValueError("use is not a list of strings")
    nb, na = entry.get("not_before"), entry.get("not_after")
    if not is_int(nb) or not is_int(na):
        raise ValueError("not_before/not_after missing or not integers")
    name = entry.get("name") or {}
    if not isinstance(name, dict):
        name = {}
    zh: str = name["zh"] if isinstance(name.get("zh"), str) else issuer
    en: str = name["en"] if isinstance(name.get("en"), str) else issuer
    return TrustKey(kid=kid, issuer=issuer, name=LocalText(zh, en), alg=alg, public_key=pub,
                    use=frozenset(use), not_before=nb, not_after=na)


@dataclass(frozen=True)
class TrustList:
    """A verified trust list: its version, validity and keys indexed by kid."""

    version: int
    issued_at: int
    next_update: int
    keys: dict[bytes, tuple[TrustKey, ...]]
    dcc: tuple[dict[str, Any], ...]
    document: dict[str, Any]
    skipped: tuple[str, ...] = ()
    names: dict[str, LocalText] = field(default_factory=dict)

    @classmethod
    def verify(cls, doc: dict[str, Any] | bytes | str, anchors: Sequence[PublicKey],
               source: str = "<trust list>") -> TrustList:
        if not anchors:
            raise TrustListError(source, "no trust anchor is pinned")
        payload, _ = verify_envelope(doc, anchors, TRUST_TYP, source)
        if payload.get("type") != "hc-trustlist":
            raise TrustListError(source, f"payload type is {payload.get('type')!r}, expected 'hc-trustlist'")
        for name in ("version", "issued_at", "next_update"):
            if not is_int(payload.get(name)):
                raise TrustListError(source, f"{name} missing or not an integer")
        entries = payload.get("keys")
        if not isinstance(entries, list):
            raise TrustListError(source, "keys missing or not a list")
        keys: dict[bytes, list[TrustKey]] = {}
        skipped = []
        for i, entry in enumerate(entries):
            # A bad entry is dropped, not the whole list: the list is signed by the root, and refusing
            # it would freeze every other region's keys on the device.
            try:
                k = _parse_key(entry)
            except (ValueError, TypeError) as e:
                skipped.append(f"keys[{i}]: {e}")
                continue
            keys.setdefault(k.kid, []).append(k)
        for s in skipped:
            log.warning("trust list %s: skipped entry %s", source, s)
        dcc = payload.get("dcc") or []
        if not isinstance(dcc, list):
            raise TrustListError(source, "dcc is not a list")
        doc_obj = json.loads(doc) if isinstance(doc, bytes | str) else doc
        return cls(version=payload["version"], issued_at=payload["issued_at"],
                   next_update=payload["next_update"],
                   keys={kid: tuple(v) for kid, v in keys.items()},
                   dcc=tuple(d for d in dcc if isinstance(d, dict)), document=doc_obj,
                   skipped=tuple(skipped),
                   names={k.issuer: k.name for ks in reversed(list(keys.values())) for k in reversed(ks)})


class TrustStore:
    """The device's current trust list, in memory or persisted under a data directory.

    Lookups are by kid. With a directory, `update()` enforces rollback protection and writes the new
    list atomically, so a power cut leaves either the old or the new list, never half of one.
    """

    FILE = "trustlist.json"

    def __init__(self, anchors: Sequence[PublicKey], directory: Path | None = None):
        self.anchors = list(anchors)
        self.directory = directory
        self.current: TrustList | None = None

    @classmethod
    def from_document(cls, doc: dict[str, Any] | bytes | str, anchors: Sequence[PublicKey],
                      source: str = "<trust list>") -> TrustStore:
        store = cls(anchors)
        store.current = TrustList.verify(doc, store.anchors, source)
        return store

    @classmethod
    def from_file(cls, path: str | Path, anchors: Sequence[PublicKey]) -> TrustStore:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as e:
            raise TrustListError(str(p), f"cannot read: {e.strerror}") from None
        return cls.from_document(data, anchors, str(p))

    @classmethod
    def open(cls, directory: str | Path, anchors: Sequence[PublicKey]) -> TrustStore:
        """Open the persisted store; an empty directory gives an empty store (every code: unknown_key)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        store = cls(anchors, d)
        path = d / cls.FILE
        if path.exists():
            # The cached list is re-verified: anchors may have been rotated since it was stored.
            store.current = TrustList.verify(path.read_bytes(), store.anchors, str(path))
        return store

    def update(self, doc: dict[str, Any] | bytes | str, source: str = "<trust list>") -> TrustList:
        new = TrustList.verify(doc, self.anchors, source)
        if self.current is not None and new.version <= self.current.version:
            raise RollbackError(source, f"version {new.version} is not newer than the cached "
                                        f"version {self.current.version}")
        if self.directory is not None:
            atomic_write(self.directory / self.FILE, json.dumps(new.document, ensure_ascii=False))
        self.current = new
        return new

    # --- lookups -------------------------------------------------------------------------------
    @property
    def version(self) -> int | None:
        return self.current.version if self.current else None

    @property
    def issued_at(self) -> int | None:
        return self.current.issued_at if self.current else None

    @property
    def next_update(self) -> int | None:
        return self.current.next_update if self.current else None

    def keys_for(self, kid: bytes) -> tuple[TrustKey, ...]:
        if self.current is None:
            return ()
        return self.current.keys.get(kid, ())

    def all_keys(self) -> Iterable[TrustKey]:
        if self.current is None:
            return ()
        return (k for ks in self.current.keys.values() for k in ks)

    def issuers(self) -> list[str]:
        return sorted({k.issuer for k in self.all_keys()})

    def issuer_name(self, issuer: str) -> LocalText | None:
        return self.current.names.get(issuer) if self.current else None

    def is_stale(self, now: float, grace: float = 0) -> bool:
        return self.current is None or now > self.current.next_update + grace

    def status_signers(self, issuer: str, kid: bytes | None) -> list[TrustKey]:
        """Keys allowed to sign a status list for this issuer."""
        pool = self.keys_for(kid) if kid is not None else tuple(self.all_keys())
        return [k for k in pool if "status" in k.use and k.issuer == issuer]


def kid_b64(key: PublicKey) -> str:
    return base64.b64encode(kid_of(key)).decode()
