"""Status lists: an issuer's signed record of status changes since issuance and of revoked codes.

This module parses a list and checks who signed it. A list is accepted only when a trust-list key with
`"status"` in its use and the same issuer as the list signed it. Applying it is `keys.statusstore`'s
job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from keys import jws
from keys.errors import StatusListError
from keys.jsontypes import JsonObject, SignedJson
from keys.signing import verify_raw
from keys.trustlist import TrustStore, b64decode_strict, is_int

STATUS_TYP = "hc-statuslist+json"



@dataclass(frozen=True)
class StatusListDoc:
    issuer: str
    version: int
    base: int | None
    issued_at: int
    next_update: int
    subjects: tuple[tuple[bytes, int, int], ...]
    revoked: tuple[bytes, ...]
    source: str = "<status list>"

    @property
    def is_snapshot(self) -> bool:
        return self.base is None


def _parse_payload(payload: JsonObject, source: str) -> StatusListDoc:
    def bad(reason: str) -> StatusListError:
        return StatusListError(source, reason)

    if payload.get("type") != "hc-statuslist":
        raise bad(f"payload type is {payload.get('type')!r}, expected 'hc-statuslist'")
    issuer = payload.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise bad("issuer missing or not a string")
    for field in ("version", "issued_at", "next_update"):
        if not is_int(payload.get(field)):
            raise bad(f"{field} missing or not an integer from 0 to 2^63-1")
    base = payload.get("base")
    if base is not None and not is_int(base):
        raise bad("base is neither null nor an integer")
    if base is not None and base >= payload["version"]:
        raise bad(f"delta base {base} is not below its version {payload['version']}")
    subjects_in = payload.get("subjects", [])
    revoked_in = payload.get("revoked", [])
    if not isinstance(subjects_in, list) or not isinstance(revoked_in, list):
        raise bad("subjects/revoked must be lists")
    subjects = []
    try:
        for i, e in enumerate(subjects_in):
            if not isinstance(e, dict):
                raise ValueError(f"subjects[{i}] is not an object")
            sub = b64decode_strict(e.get("sub"), f"subjects[{i}].sub")
            s, sd = e.get("s"), e.get("sd")
            if len(sub) != 16:
                raise ValueError(f"subjects[{i}].sub is not 16 bytes")
            if not is_int(s) or s not in (0, 1, 2):
                raise ValueError(f"subjects[{i}].s is not 0, 1 or 2")
            if not is_int(sd):
                raise ValueError(f"subjects[{i}].sd missing or not an integer from 0 to 2^63-1")
            subjects.append((sub, s, sd))
        revoked = tuple(b64decode_strict(c, f"revoked[{i}]") for i, c in enumerate(revoked_in))
    except ValueError as e:
        raise bad(str(e)) from None
    return StatusListDoc(issuer=issuer, version=payload["version"], base=base,
                         issued_at=payload["issued_at"], next_update=payload["next_update"],
                         subjects=tuple(subjects), revoked=revoked, source=source)


def verify_status_list(doc: SignedJson, trust: TrustStore,
                       source: str = "<status list>", now: float | None = None) -> StatusListDoc:
    """Parse a status list and check that a key allowed for its issuer signed it.

    A key past its `not_after` (at `now`, default the system clock) signs no more status lists: a
    retired key's holder could otherwise turn every card of the region green again.
    """
    try:
        parts = jws.parse(doc)
    except ValueError as e:
        raise StatusListError(source, f"not a valid JWS: {e}") from None
    if parts.header.get("typ") != STATUS_TYP:
        raise StatusListError(source, f"typ is {parts.header.get('typ')!r}, expected {STATUS_TYP!r}")
    alg = parts.header.get("alg")
    try:
        payload = jws.load_json(parts.payload, "payload")
    except ValueError as e:
        raise StatusListError(source, str(e)) from None
    if not isinstance(payload, dict):
        raise StatusListError(source, "payload is not a JSON object")
    parsed = _parse_payload(payload, source)
    signers = [k for k in trust.status_signers(parsed.issuer, parts.kid) if k.alg == alg]
    if not signers:
        raise StatusListError(source, f"not signed by a key allowed to sign status lists for "
                                      f"{parsed.issuer} (kid {parts.kid.hex() if parts.kid else 'none'})")
    key = next((k for k in signers if verify_raw(k.public_key, parts.signature, parts.signing_input)), None)
    if key is None:
        raise StatusListError(source, "signature does not verify")
    if not key.valid_at(parsed.issued_at):
        raise StatusListError(source, f"signing key {key.kid.hex()} was not valid at issued_at")
    at = time.time() if now is None else now
    if at > key.not_after:
        raise StatusListError(source, f"signing key {key.kid.hex()} is retired (not_after "
                                      f"{key.not_after}); its status lists are no longer accepted")
    return parsed
