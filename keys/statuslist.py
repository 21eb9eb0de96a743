"""Status lists: an issuer's signed record of status changes since issuance and of revoked codes.

This module parses a list and checks who signed it. A list is accepted only when a trust-list key with
`"status"` in its use and the same issuer as the list signed it. Applying it is `keys.statusstore`'s
job.

A province's list holds millions of entries, so it is read from a file a batch at a time
(`read_status_list`): the JWS payload is decoded in pieces, its entries are checked and handed on in
batches, and the signature is computed over the pieces as they pass (`keys.signing.SigningInput`).
Nothing of a list may be used before `read_status_list` returns: the store stages the batches and applies
them only then. `verify_status_list` reads a list held in memory the same way.
"""

from __future__ import annotations

import binascii
import codecs
import io
import json
import time
from collections.abc import Callable, Iterator
from typing import IO

from keys import jws
from keys.errors import StatusListError
from keys.frozen import frozen
from keys.jsonstream import JsonStreamError, object_events
from keys.jsontypes import Json, JsonObject, SignedJson
from keys.packedrows import PackedSubjects, SubjectRow, packed_subjects
from keys.signing import SigningInput
from keys.trustlist import INT_MAX, TrustStore, b64decode_strict, is_int

STATUS_TYP = "hc-statuslist+json"
# The EU DCC revocation list's (`keys.dccrevocation`), which a status store tells apart by `typ_of`.
DCC_REVOCATION_TYP = "hc-dccrevocation+json"
_a2b = binascii.a2b_base64
# A list is read from its file this many bytes at a time.
READ_BYTES = 1 << 20

# A batch of checked entries as handed on: rows, or (nearly always) packed (`keys.packedrows`).
SubjectBatch = list[SubjectRow] | PackedSubjects


@frozen
class StatusListHead:
    """What a verified list says about itself, and how many entries it held."""

    issuer: str
    version: int
    base: int | None
    issued_at: int
    next_update: int
    subjects: int
    revoked: int
    source: str = "<status list>"

    @property
    def is_snapshot(self) -> bool:
        return self.base is None


@frozen
class StatusListDoc:
    """A verified list held whole in memory (small lists, tests)."""

    issuer: str
    version: int
    base: int | None
    issued_at: int
    next_update: int
    subjects: tuple[SubjectRow, ...]
    revoked: tuple[bytes, ...]
    source: str = "<status list>"

    @property
    def is_snapshot(self) -> bool:
        return self.base is None


def _subject_rows(items: list[Json], first: int) -> list[SubjectRow]:
    """The rows of a batch of `subjects` entries, checked; ValueError names the first bad entry."""
    # Millions of entries: the common case in one pass, the exact reason from the careful pass below.
    try:
        rows = [(_a2b(e["sub"], strict_mode=True), e["s"], e["sd"]) for e in items]
    except (TypeError, KeyError, ValueError):
        pass
    else:
        if all(len(sub) == 16 and type(s) is int and 0 <= s <= 2 and type(sd) is int and 0 <= sd <= INT_MAX
               for sub, s, sd in rows):
            return rows
    return _checked_rows(items, first)


def _checked_rows(items: list[Json], first: int) -> list[SubjectRow]:
    rows = []
    for i, e in enumerate(items, first):
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
        rows.append((sub, s, sd))
    return rows


def _head(payload: JsonObject, subjects: int, revoked: int, source: str) -> StatusListHead:
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
    # A streamed array never reaches here as a member: one that does is not an array.
    if "subjects" in payload or "revoked" in payload:
        raise bad("subjects/revoked must be lists")
    return StatusListHead(issuer=issuer, version=payload["version"], base=base, issued_at=payload["issued_at"],
                          next_update=payload["next_update"], subjects=subjects, revoked=revoked, source=source)


def _b64url(text: str) -> bytes:
    """Base64url without padding, strictly: a character outside the alphabet is an error."""
    try:
        return binascii.a2b_base64(text.translate(_FROM_URLSAFE) + "=" * (-len(text) % 4), strict_mode=True)
    except (binascii.Error, ValueError):
        raise ValueError("payload is not base64url") from None


_FROM_URLSAFE = str.maketrans("-_", "+/")


def _text(f: IO[bytes]) -> Iterator[str]:
    decode = codecs.getincrementaldecoder("utf-8-sig")().decode
    while chunk := f.read(READ_BYTES):
        yield decode(chunk)
    yield decode(b"", final=True)


def read_status_list(f: IO[bytes], trust: TrustStore, source: str = "<status list>", now: float | None = None, *,
                     subjects: Callable[[SubjectBatch], object],
                     revoked: Callable[[list[bytes]], object],
                     head: Callable[[JsonObject], object] | None = None) -> StatusListHead:
    """Read a status list (a flattened JWS) from `f` a batch at a time and check that a key allowed for its
    issuer signed it; batches of checked entries go to `subjects` and `revoked` as they are read. Raises
    `StatusListError` naming what is wrong: whatever was handed on is then to be thrown away.

    `head`, if given, is called once with the payload's fields met before its first entries (issuer,
    version, base, as signers write them), not yet verified: it may raise to stop before the entries are
    read, where the list would be refused whatever its signature (a version already held).

    A key past its `not_after` (at `now`, default the system clock) signs no more status lists: a
    retired key's holder could otherwise turn every card of the region green again.
    """
    def bad(reason: str) -> StatusListError:
        return StatusListError(source, reason)

    envelope: JsonObject = {}
    header: JsonObject = {}
    kid: bytes | None = None
    signed: SigningInput | None = None
    early: IO[bytes] | None = None  # payload text met before the protected header, kept on disk

    def start_signing() -> SigningInput:
        nonlocal header, kid
        protected = envelope.get("protected")
        if not isinstance(protected, str):
            raise bad("not a valid JWS: JWS field 'protected' missing or not a string")
        try:
            header, kid = jws.read_header(protected, envelope.get("header", {}))
        except ValueError as e:
            raise bad(f"not a valid JWS: {e}") from None
        if header.get("typ") != STATUS_TYP:
            raise bad(f"typ is {header.get('typ')!r}, expected {STATUS_TYP!r}")
        s = SigningInput(str(header.get("alg")))
        s.update(protected.encode("ascii") + b".")
        return s

    def payload_bytes() -> Iterator[bytes]:
        nonlocal signed, early
        seen, rest = False, ""
        try:
            for kind, name, value in object_events(_text(f), strings=("payload",)):
                if kind == "member":
                    envelope[name] = value
                    continue
                seen = True
                if signed is None and early is None:
                    if "protected" in envelope:
                        signed = start_signing()
                    else:
                        import tempfile  # rare (a payload before its header), and slow to load

                        early = tempfile.TemporaryFile()  # noqa: SIM115  (closed below, after reading)
                if not value.isascii():
                    raise bad("payload is not base64url")
                raw = value.encode("ascii")
                if signed is not None:
                    signed.update(raw)
                elif early is not None:
                    early.write(raw)
                rest += value
                whole = len(rest) - len(rest) % 4
                if whole:
                    yield _b64url(rest[:whole])
                    rest = rest[whole:]
            if rest:
                yield _b64url(rest)
        except JsonStreamError as e:
            raise bad(f"not a valid JWS: {e}") from None
        except ValueError as e:
            raise bad(str(e)) from None
        if not seen or "payload" in envelope:
            raise bad("not a valid JWS: JWS field 'payload' missing or not a string")

    def payload_text() -> Iterator[str]:
        decode = codecs.getincrementaldecoder("utf-8")().decode
        try:
            for piece in payload_bytes():
                yield decode(piece)
            yield decode(b"", final=True)
        except UnicodeDecodeError:
            raise bad("payload is not UTF-8 text") from None

    payload: JsonObject = {}
    counts = {"subjects": 0, "revoked": 0}
    try:
        for kind, name, value in object_events(payload_text(), arrays=("subjects", "revoked"),
                                               parsers={"subjects": packed_subjects}):
            if kind == "member":
                payload[name] = value
                continue
            if head is not None:
                head(payload)
                head = None
            if name == "subjects":
                subjects(value if isinstance(value, PackedSubjects) else _subject_rows(value, counts[name]))
                counts[name] += len(value)
            else:
                revoked([b64decode_strict(c, f"revoked[{i}]") for i, c in enumerate(value, counts[name])])
                counts[name] += len(value)
        if signed is None:  # the protected header came after the payload
            signed = start_signing()
            if early is not None:
                early.seek(0)
                while piece := early.read(READ_BYTES):
                    signed.update(piece)
    except JsonStreamError as e:
        raise bad(f"payload is not JSON: {e}") from None
    except ValueError as e:
        raise bad(str(e)) from None
    finally:
        if early is not None:
            early.close()
    signature_text = envelope.get("signature")
    if not isinstance(signature_text, str):
        raise bad("not a valid JWS: JWS field 'signature' missing or not a string")
    try:
        signature = jws.b64url_decode(signature_text)
    except ValueError as e:
        raise bad(f"not a valid JWS: {e}") from None

    parsed = _head(payload, counts["subjects"], counts["revoked"], source)
    alg = header.get("alg")
    signers = [k for k in trust.status_signers(parsed.issuer, kid) if k.alg == alg]
    if not signers:
        raise bad(f"not signed by a key allowed to sign status lists for "
                  f"{parsed.issuer} (kid {kid.hex() if kid else 'none'})")
    verify = signed.verifier()
    key = next((k for k in signers if verify(k.public_key, signature)), None)
    if key is None:
        raise bad("signature does not verify")
    if not key.valid_at(parsed.issued_at):
        raise bad(f"signing key {key.kid.hex()} was not valid at issued_at")
    at = time.time() if now is None else now
    if at > key.not_after:
        raise bad(f"signing key {key.kid.hex()} is retired (not_after "
                  f"{key.not_after}); its status lists are no longer accepted")
    return parsed


def typ_of(f: IO[bytes]) -> Json:
    """The `typ` in the protected header of a JWS in a seekable stream, which is left where it was; None
    when there is no readable one. Reads no further than the header (unless the payload comes first)."""
    start = f.tell()
    try:
        for kind, name, value in object_events(_text(f), strings=("payload",)):
            if kind == "member" and name == "protected" and isinstance(value, str):
                return jws.read_header(value, {})[0].get("typ")
    except ValueError:  # JsonStreamError, a bad header, text that is not UTF-8: not for this peek to say
        return None
    finally:
        f.seek(start)
    return None


def verify_status_list(doc: SignedJson, trust: TrustStore,
                       source: str = "<status list>", now: float | None = None) -> StatusListDoc:
    """Parse a status list held in memory and check its signer (`read_status_list`), entries and all."""
    if isinstance(doc, dict):
        data = json.dumps(doc).encode()
    elif isinstance(doc, str):
        data = doc.encode("utf-8", "surrogatepass")
    elif isinstance(doc, bytes):
        data = doc
    else:
        raise StatusListError(source, "not a valid JWS: not a JWS object (expected protected, payload, signature)")
    subs: list[SubjectRow] = []
    revs: list[bytes] = []
    head = read_status_list(io.BytesIO(data), trust, source, now, subjects=subs.extend, revoked=revs.extend)
    return StatusListDoc(issuer=head.issuer, version=head.version, base=head.base, issued_at=head.issued_at,
                         next_update=head.next_update, subjects=tuple(subs), revoked=tuple(revs), source=source)
