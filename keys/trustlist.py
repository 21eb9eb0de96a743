"""The trust list: the national platform's signed list of every region's keys, and the store that caches it.

A list is accepted only if its JWS signature verifies against a pinned anchor (the national root SPKI
in the device configuration). A persisted store additionally refuses a list whose version is not
greater than the cached one, so an old list cannot be replayed to bring back a withdrawn key. A refused
list always leaves the cached one in place.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from keys import jws
from keys.durable import atomic_write, open_cached
from keys.errors import RollbackError, TrustListError
from keys.frozen import frozen
from keys.jsontypes import Json, JsonObject, SignedJson
from keys.keyfile import PublicKey, alg_of, kid_of, load_spki_der
from keys.localtext import LocalText
from keys.signing import verify_raw

if TYPE_CHECKING:
    from keys.dsc import DccSigner

log = logging.getLogger(__name__)

TRUST_TYP = "hc-trustlist+json"
USES = ("code", "status")
# Every integer in a list (versions, times) must fit the signed 64-bit column it is stored in.
INT_MAX = 2**63 - 1
# How long after its key's not_after a printed card may still be shown, unless the trust list says
# otherwise per key (`max_code_lifetime`, seconds).
DEFAULT_CARD_LIFETIME = 400 * 86400


@frozen
class TrustKey:
    """An issuer's signing key as a verified trust list lists it."""

    kid: bytes
    issuer: str
    name: LocalText
    alg: str
    public_key: PublicKey
    use: frozenset[str]
    not_before: int
    not_after: int
    # The longest a code signed by this key may live, seconds; None: the defaults (cards 400 days,
    # personal codes the venue profile's maximum code age).
    max_code_lifetime: int | None = None

    def valid_at(self, t: int) -> bool:
        return self.not_before <= t <= self.not_after

    def retired_for(self, now: float, lifetime: int) -> bool:
        """True once no code this key signed can still be within `lifetime` seconds of its issue."""
        return now > self.not_after + lifetime


def b64decode_strict(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"{what} is not a base64 string")
    try:
        # Strict: any character outside the alphabet, or padding out of place, is an error.
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None


def is_int(v: object) -> TypeGuard[int]:
    """An integer in JSON terms (`true` is not 1) that fits a signed 64-bit column, never negative."""
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= INT_MAX


def verify_envelope(doc: SignedJson, anchors: Sequence[PublicKey], typ: str,
                    source: str) -> tuple[JsonObject, PublicKey]:
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
        payload = jws.load_json(parts.payload, "payload")
    except ValueError as e:
        raise TrustListError(source, str(e)) from None
    if not isinstance(payload, dict):
        raise TrustListError(source, "payload is not a JSON object")
    return payload, signer


def _parse_key(entry: Json) -> TrustKey:
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
        raise ValueError("not_before/not_after missing or not integers from 0 to 2^63-1")
    lifetime = entry.get("max_code_lifetime")
    if lifetime is not None and (not is_int(lifetime) or lifetime == 0):
        raise ValueError("max_code_lifetime is not a positive number of seconds")
    name = entry.get("name") or {}
    if not isinstance(name, dict):
        name = {}
    zh: str = name["zh"] if isinstance(name.get("zh"), str) else issuer
    en: str = name["en"] if isinstance(name.get("en"), str) else issuer
    return TrustKey(kid=kid, issuer=issuer, name=LocalText(zh, en), alg=alg, public_key=pub,
                    use=frozenset(use), not_before=nb, not_after=na, max_code_lifetime=lifetime)


@frozen
class TrustList:
    """A verified trust list: its version, validity and keys indexed by kid."""

    version: int
    issued_at: int
    next_update: int
    keys: dict[bytes, tuple[TrustKey, ...]]
    dcc: tuple[JsonObject, ...]
    document: JsonObject
    # The `keys` entries dropped, and why.
    skipped_keys: tuple[str, ...] = ()
    names: dict[str, LocalText] = field(default_factory=dict)
    # The `dcc` array as signed, and where the list came from (for the skipped entries' log lines).
    dcc_entries: tuple[Json, ...] = ()
    source: str = "<trust list>"

    @functools.cached_property
    def _dcc_read(self) -> tuple[dict[bytes, tuple[DccSigner, ...]], tuple[str, ...]]:
        # The certificates are parsed (and X.509 loaded) once, when first needed: `checkpoint check` on
        # an HCC1 code never needs them. A device reads them as it loads the list (`read_dcc_signers`).
        from keys.dsc import read_signers

        signers, skipped = read_signers(self.dcc_entries, self.source, b64decode_strict)
        return signers, tuple(skipped)

    @property
    def dcc_signers(self) -> dict[bytes, tuple[DccSigner, ...]]:
        """The `dcc` entries read into DCC signers, by kid."""
        return self._dcc_read[0]

    @property
    def skipped(self) -> tuple[str, ...]:
        """Every entry dropped from the list (`keys` and `dcc`), and why."""
        return self.skipped_keys + self._dcc_read[1]

    def read_dcc_signers(self) -> None:
        """Parse the DCC signers' certificates now rather than at the first DCC scanned."""
        self._dcc_read  # noqa: B018  (the cached property is the work)

    @classmethod
    def verify(cls, doc: SignedJson, anchors: Sequence[PublicKey],
               source: str = "<trust list>") -> TrustList:
        if not anchors:
            raise TrustListError(source, "no trust anchor is pinned")
        payload, _ = verify_envelope(doc, anchors, TRUST_TYP, source)
        if payload.get("type") != "hc-trustlist":
            raise TrustListError(source, f"payload type is {payload.get('type')!r}, expected 'hc-trustlist'")
        for name in ("version", "issued_at", "next_update"):
            if not is_int(payload.get(name)):
                raise TrustListError(source, f"{name} missing or not an integer from 0 to 2^63-1")
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
        doc_obj = jws.load_json(doc, "the document") if isinstance(doc, bytes | str) else doc
        return cls(version=payload["version"], issued_at=payload["issued_at"],
                   next_update=payload["next_update"],
                   keys={kid: tuple(v) for kid, v in keys.items()},
                   dcc=tuple(d for d in dcc if isinstance(d, dict)), document=doc_obj,
                   skipped_keys=tuple(skipped), dcc_entries=tuple(dcc), source=source,
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
        # Why the store holds no valid list although one was expected (refused cache or bootstrap).
        self.problem: str | None = None

    @classmethod
    def from_document(cls, doc: SignedJson, anchors: Sequence[PublicKey],
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
    def open(cls, directory: str | Path, anchors: Sequence[PublicKey],
             bootstrap: str | Path | None = None, *, set_aside: bool = True) -> TrustStore:
        """Open the persisted store; an empty directory gives an empty store (every code: unknown_key).

        Never refuses to open: a cached list that no longer verifies (damaged file, anchors rotated
        without overlap) is moved aside for inspection and the store falls back to the `bootstrap`
        file, or to no list at all. `problem` then says what happened, for the screen and the status
        file; the sync agent fetches a fresh list. With `set_aside=False` (a running kiosk re-reading the
        list the agent replaced, which would rather keep the list it holds) a refused list raises
        `TrustListError` and stays where it is.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        store = cls(anchors, d)
        path = d / cls.FILE

        def load(data: bytes, source: str) -> None:
            store.current = TrustList.verify(data, store.anchors, source)
            store.current.read_dcc_signers()  # a device's first DCC at the gate does not wait for them

        if not set_aside and path.exists():
            try:
                load(path.read_bytes(), str(path))
            except (TrustListError, OSError) as e:
                raise TrustListError(str(path), str(e)) from None
        else:
            store.problem = open_cached(path, what="trust list", load=load, install=store.update,
                                        bootstrap=bootstrap, refused=(TrustListError,))
        return store

    def update(self, doc: SignedJson, source: str = "<trust list>") -> TrustList:
        new = TrustList.verify(doc, self.anchors, source)
        if self.current is not None and new.version <= self.current.version:
            raise RollbackError(source, f"version {new.version} is not newer than the cached "
                                        f"version {self.current.version}")
        if self.directory is not None:
            atomic_write(self.directory / self.FILE, json.dumps(new.document, ensure_ascii=False))
            new.read_dcc_signers()
        self.current = new
        self.problem = None
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

    def dcc_signers_for(self, kid: bytes) -> tuple[DccSigner, ...]:
        if self.current is None:
            return ()
        return self.current.dcc_signers.get(kid, ())

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
