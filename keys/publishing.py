"""Signing trust lists and status lists: the national platform's and the regional issuers' side.

The national platform signs the trust list (every region's keys) with its root key; each issuer signs its
status lists. Both are JWS documents (docs/format.md); devices verify them against pinned anchors.
"""

from __future__ import annotations

import base64
import itertools
import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from keys import durable, jws
from keys.dsc import dcc_kid
from keys.jsontypes import JsonObject
from keys.keyfile import PrivateKey, PublicKey, alg_of, kid_of, spki_der
from keys.signing import SigningInput
from keys.statuslist import STATUS_TYP
from keys.trustlist import TRUST_TYP

T = TypeVar("T")


@dataclass
class KeyEntry:
    """One key of the trust list, with the issuer's display names and what it may sign."""

    public_key: PublicKey
    issuer: str
    name_zh: str
    name_en: str
    use: Sequence[str] = ("code", "status")
    not_before: int = 1735689600  # 2025-01-01
    not_after: int = 1893456000  # 2030-01-01
    max_code_lifetime: int | None = None

    def to_json(self) -> JsonObject:
        entry = {"kid": base64.b64encode(kid_of(self.public_key)).decode(), "issuer": self.issuer,
                 "name": {"zh": self.name_zh, "en": self.name_en}, "alg": alg_of(self.public_key),
                 "spki": base64.b64encode(spki_der(self.public_key)).decode(), "use": list(self.use),
                 "not_before": self.not_before, "not_after": self.not_after}
        if self.max_code_lifetime is not None:
            entry["max_code_lifetime"] = self.max_code_lifetime
        return entry


@dataclass
class DccEntry:
    """One EU DCC Document Signer Certificate (DER) of the trust list, with its country."""

    certificate: bytes
    country: str

    def to_json(self) -> JsonObject:
        return {"kid": base64.b64encode(dcc_kid(self.certificate)).decode(), "country": self.country,
                "certificate": base64.b64encode(self.certificate).decode()}


def sign_trust_list(root: PrivateKey, keys: Iterable[KeyEntry], *, version: int, issued_at: int,
                    next_update: int, dcc: Iterable[DccEntry] = ()) -> dict[str, str]:
    payload = {"type": "hc-trustlist", "version": version, "issued_at": issued_at,
               "next_update": next_update, "keys": [k.to_json() for k in keys],
               "dcc": [d.to_json() for d in dcc]}
    return jws.sign(payload, root, TRUST_TYP)


# --- status lists -------------------------------------------------------------------------------
def _status_entry(sub: bytes, s: int, sd: int) -> JsonObject:
    return {"sub": base64.b64encode(sub).decode(), "s": s, "sd": sd}


def sign_status_list(signer: PrivateKey, *, issuer: str, version: int, issued_at: int, next_update: int,
                     subjects: Iterable[tuple[bytes, int, int]] = (), revoked: Iterable[bytes] = (),
                     base: int | None = None) -> dict[str, str]:
    """A snapshot (base None) or a delta on `base`. Subjects are (pseudonym, status, since)."""
    payload = {"type": "hc-statuslist", "issuer": issuer, "version": version, "base": base,
               "issued_at": issued_at, "next_update": next_update,
               "subjects": [_status_entry(*e) for e in subjects],
               "revoked": [base64.b64encode(c).decode() for c in revoked]}
    return jws.sign(payload, signer, STATUS_TYP)


def write_status_list(path: str | Path, signer: PrivateKey, *, issuer: str, version: int, issued_at: int,
                      next_update: int, subjects: Iterable[tuple[bytes, int, int]] = (),
                      revoked: Iterable[bytes] = (), base: int | None = None) -> Path:
    """`sign_status_list` written to `path` a batch at a time, for a list larger than memory: the same
    document, byte for byte, as `json.dumps(sign_status_list(...))`. The file appears only when whole."""
    header = {"alg": alg_of(signer), "kid": jws.b64url_encode(kid_of(signer)), "typ": STATUS_TYP}
    protected = jws.b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    head = {"type": "hc-statuslist", "issuer": issuer, "version": version, "base": base,
            "issued_at": issued_at, "next_update": next_update}
    signed = SigningInput(alg_of(signer))
    signed.update(protected.encode() + b".")

    b64 = base64.b64encode

    def dumps(obj: object) -> str:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)

    def payload_text() -> Iterator[str]:
        yield dumps(head)[:-1] + ',"subjects":['
        sep = ""
        for batch in _batched(subjects):
            # What `dumps(_status_entry(...))` gives (Base64 and integers need no escaping), ten times faster.
            yield sep + ",".join(f'{{"sub":"{b64(sub).decode()}","s":{int(st)},"sd":{int(sd)}}}'
                                 for sub, st, sd in batch)
            sep = ","
        yield '],"revoked":['
        sep = ""
        for cti_batch in _batched(revoked):
            yield sep + ",".join(dumps(base64.b64encode(c).decode()) for c in cti_batch)
            sep = ","
        yield "]}"

    with tempfile.TemporaryFile() as body, durable.atomic_writer(path) as out:
        rest = b""
        for text in payload_text():
            data = rest + text.encode()
            cut = len(data) - len(data) % 3
            chunk = jws.b64url_encode(data[:cut]).encode()
            rest = data[cut:]
            signed.update(chunk)
            body.write(chunk)
        chunk = jws.b64url_encode(rest).encode()
        signed.update(chunk)
        body.write(chunk)
        out.write(f'{{"protected": "{protected}", "payload": "')
        body.seek(0)
        while piece := body.read(1 << 20):
            out.write(piece.decode("ascii"))
        out.write(f'", "signature": "{jws.b64url_encode(signed.sign(signer))}"}}')
    return Path(path)


def _batched(items: Iterable[T], n: int = 10_000) -> Iterator[tuple[T, ...]]:
    it = iter(items)
    while batch := tuple(itertools.islice(it, n)):
        yield batch
