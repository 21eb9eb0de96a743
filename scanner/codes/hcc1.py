"""Decoder for HCC1 codes: `"HCC1:" Base45( zlib( COSE_Sign1 ) )` carrying CWT health-code claims.

Exactly per `docs/format.md` §1-2. Every failure is a `CodeError` with its verdict (§5.2): `unsupported`
(unknown alg, unknown claims version) or `malformed` (everything else that is wrong with the bytes).
Verification of the signature and of the claims' meaning happens in `scanner.verify`.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Mapping
from typing import Any, TypeGuard

import cbor2

from keys.hcc1 import CLAIMS_VERSION, COSE_ALGS, MAX_DECOMPRESSED, PREFIX, RELATIONS
from keys.jsontypes import Cbor
from scanner.codes.b45 import b45decode
from scanner.codes.base import CodeError, DecodedCode, Guardian, HealthClaims

RELATION_CODES = frozenset(RELATIONS.values())

# The errors cbor2 and base45 raise on hostile input; anything else escaping is a bug to find.
DECODE_ERRORS = (cbor2.CBORError, ValueError, TypeError, KeyError, IndexError, OverflowError,
                  RecursionError, EOFError, MemoryError)


# What cbor2 decodes a map to, tested before the Mapping ABC: an ABC isinstance is a Python-level call,
# and for cbor2's frozendict its answer is not even cached, so it cost more than the rest of the test.
_MAP_TYPES = (dict, cbor2.frozendict, Mapping)


def is_map(v: object) -> TypeGuard[Mapping[Any, Any]]:
    """True for a decoded CBOR map (any Mapping)."""
    return isinstance(v, _MAP_TYPES)


# `NamedTuple(*fields)` is this call wrapped in a `__new__` written in Python: the records of every code
# decoded are made by it directly.
_new_tuple = tuple.__new__


def _malformed(reason: str) -> CodeError:
    return CodeError("malformed", reason)


def _is_int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_uint(v: object) -> TypeGuard[int]:
    return _is_int(v) and v >= 0


# A random value only this process knows, encoded: decoding `data` followed by it as a two-item array and
# finding it whole as the second item proves `data` was exactly one CBOR item. Trailing bytes would begin
# the second item, which could then equal the marker only if they were made knowing its 16 random bytes,
# or were only heads of the tags cbor2 decodes to their content unchanged (28, 256, 55799): data that
# ends like such a head takes the exact path. One `loads` costs half of what a decoder on a stream does.
_MARK = os.urandom(16)
_PAIR_HEAD, _MARK_TAIL = cbor2.dumps([None, None])[:1], cbor2.dumps(_MARK)
# The last bytes of any head of tag 28 (its number's low byte), 256 and 55799 (their two low bytes).
TRANSPARENT_TAGS = (28, 256, 55799)
_TRANSPARENT_ENDS = (b"\x1c", b"\x01\x00", b"\xd9\xf7")


def decode_cbor(data: bytes, what: str) -> Cbor:
    """The one CBOR item `data` holds; `malformed` when it is not valid CBOR, has bytes after the item, or
    has a map with a key twice (not valid CBOR, RFC 8949 §5.6; and for a COSE header RFC 9052 §3: "if a
    label appears multiple times, the message MUST be rejected as malformed")."""
    if not data.endswith(_TRANSPARENT_ENDS):
        try:
            pair = cbor2.loads(_PAIR_HEAD + data + _MARK_TAIL, allow_duplicate_keys=False)
        except DECODE_ERRORS:
            pair = None
        if type(pair) is list and len(pair) == 2 and type(pair[1]) is bytes and pair[1] == _MARK:
            return pair[0]
    return _decode_cbor_exactly(data, what)


def _decode_cbor_exactly(data: bytes, what: str) -> Cbor:
    fp = io.BytesIO(data)
    try:
        obj = cbor2.CBORDecoder(fp, allow_duplicate_keys=False).decode()
    except DECODE_ERRORS as e:
        if "Duplicate map key" in str(e):
            raise _malformed(f"{what} has a map with a duplicate key") from None
        raise _malformed(f"{what} is not valid CBOR ({type(e).__name__})") from None
    if fp.tell() != len(data):
        raise _malformed(f"{what} has trailing bytes after the CBOR item")
    return obj


def base45_body(text: str, prefix: str) -> bytes:
    """The bytes after a code's prefix; `malformed` when there are none or they are not Base45."""
    body = text[len(prefix):]
    if not body:
        raise _malformed(f"nothing after the {prefix} prefix")
    try:
        raw = b45decode(body)
    except DECODE_ERRORS:
        raise _malformed("not valid Base45 after the prefix") from None
    if not raw:
        raise _malformed("empty code")
    return raw


def _decompress(raw: bytes) -> bytes:
    # An uncompressed COSE message starts with tag 18 (0xD2) or a bare 4-array (0x84).
    if raw[:1] in (b"\xd2", b"\x84"):
        if len(raw) > MAX_DECOMPRESSED:
            raise _malformed(f"COSE message larger than {MAX_DECOMPRESSED} bytes")
        return raw
    d = zlib.decompressobj()
    try:
        out = d.decompress(raw, MAX_DECOMPRESSED + 1)
    except zlib.error as e:
        raise _malformed(f"not zlib data ({e})") from None
    if len(out) > MAX_DECOMPRESSED or d.unconsumed_tail:
        raise _malformed(f"decompresses to more than {MAX_DECOMPRESSED} bytes")
    if not d.eof:
        raise _malformed("zlib stream is truncated")
    if d.unused_data:
        raise _malformed("data after the end of the zlib stream")
    return out


def cose_parts(msg: Cbor) -> tuple[bytes, Mapping[object, object], bytes, bytes]:
    if isinstance(msg, cbor2.CBORTag):
        if msg.tag != 18:
            raise _malformed(f"CBOR tag {msg.tag} is not COSE_Sign1 (18)")
        msg = msg.value
    if not isinstance(msg, (list, tuple)) or len(msg) != 4:  # a tuple of types: a union tests slower
        raise _malformed("not a COSE_Sign1 array of four items")
    protected, unprotected, payload, signature = msg
    if not isinstance(protected, bytes):
        raise _malformed("COSE protected header is not a byte string")
    if not is_map(unprotected):
        raise _malformed("COSE unprotected header is not a map")
    if not isinstance(payload, bytes):
        raise _malformed("COSE payload is not a byte string")
    if not isinstance(signature, bytes):
        raise _malformed("COSE signature is not a byte string")
    return protected, unprotected, payload, signature


def sig_structure_head(protected: bytes) -> bytes:
    """The start of every COSE Sig_structure (`["Signature1", protected, b"", payload]`, encoded) made with
    this protected header: all of it but the payload's byte string, which follows as `cbor2.dumps(payload)`.
    An array's encoding is its head then its items': ending it with an empty byte string (one byte, dropped
    here) leaves what comes before the payload's encoding."""
    return cbor2.dumps(["Signature1", protected, b"", b""])[:-1]


# Protected headers already parsed, by their exact bytes, with the head of their Sig_structure and their
# labels: an issuer's key signs every code with the same header, so all but the first of its codes skip a
# CBOR decode and an encode. Only headers that parsed are kept.
Header = tuple[str, bytes, bytes, frozenset[object]]  # alg, kid, Sig_structure head, the labels
_HEADERS: dict[bytes, Header] = {}
_MAX_HEADERS = 1024
# The header labels this verifier understands (alg, kid): a `crit` naming any other is not understood.
_UNDERSTOOD = frozenset({1, 4})


_UNPROTECTED_KID = "kid is in the unprotected header (HCC1 requires it protected, and only there)"


def _header(protected: bytes, unprotected: Mapping[object, object]) -> tuple[str, bytes, bytes]:
    """The code's alg and kid, and the head of its Sig_structure (`sig_structure_head`)."""
    known = _HEADERS.get(protected)
    if known is None:
        known = _parse_header(protected, unprotected)
    # Checked on every code, not cached with the protected bytes: an unprotected kid is not signed, and a
    # verifier that read it would look up another key, so it is malformed even beside a protected one.
    if unprotected:
        if 4 in unprotected:
            raise _malformed(_UNPROTECTED_KID)
        if 2 in unprotected:
            raise _malformed("crit is in the unprotected header (RFC 9052 §3.1: only in the protected one)")
        # RFC 9052 §3: "Applications SHOULD verify that the same label does not occur in both".
        both = known[3].intersection(unprotected)
        if both:
            raise _malformed(f"header label {sorted(both, key=repr)[0]!r} is in both the protected and the "
                             "unprotected header")
    return known[:3]


def crit_problem(prot: Mapping[object, object]) -> CodeError | None:
    """Why a protected header's `crit` (label 2) refuses the code, or None.

    RFC 9052 §3.1: `crit` lists labels (ints or texts), at least one, that a recipient must understand or
    reject the message. One this verifier does not understand makes the code `unsupported` (as an unknown
    alg does); a `crit` that is not such a list is `malformed`.
    """
    if 2 not in prot:
        return None
    crit = prot[2]
    if not isinstance(crit, list) or not crit or not all(type(c) in (int, str) for c in crit):
        return _malformed("crit is not a non-empty list of header labels")
    unknown = [c for c in crit if c not in _UNDERSTOOD]
    if unknown:
        return CodeError("unsupported", f"critical header parameter {unknown[0]!r} is not understood")
    return None


def _parse_header(protected: bytes, unprotected: Mapping[object, object]) -> Header:
    prot = decode_cbor(protected, "protected header") if protected else {}
    if not is_map(prot):
        raise _malformed("protected header is not a map")
    alg = prot.get(1)
    if alg is None:
        raise _malformed("no alg in the protected header")
    # RFC 9052 §3.1: an alg is an int or a text; HCC1 knows two ints, so a text alg is an unknown one.
    if isinstance(alg, str):
        raise CodeError("unsupported", f"signature algorithm {alg!r} is not supported")
    if not _is_int(alg):
        raise _malformed("alg is not an integer")
    if alg not in COSE_ALGS:
        raise CodeError("unsupported", f"signature algorithm {alg} is not supported")
    crit = crit_problem(prot)
    if crit is not None and crit.verdict == "unsupported":
        raise crit
    kid = prot.get(4)
    if kid is None:
        raise _malformed(_UNPROTECTED_KID if 4 in unprotected else "no kid in the protected header")
    if not isinstance(kid, bytes):
        raise _malformed("kid is not a byte string")
    if crit is not None:
        raise crit
    if len(_HEADERS) >= _MAX_HEADERS:
        _HEADERS.clear()
    known = _HEADERS[protected] = (COSE_ALGS[alg], kid, sig_structure_head(protected), frozenset(prot))
    return known


def _guardian(g: Cbor) -> Guardian:
    if not is_map(g):
        raise _malformed("guardian (g) is not a map")
    name, rel, sub = g.get("n"), g.get("r"), g.get("sub")
    if not isinstance(name, str):
        raise _malformed("guardian name (g.n) missing or not text")
    if not _is_uint(rel) or rel not in RELATION_CODES:
        raise _malformed("guardian relation (g.r) missing or not one of 1-6, 9")
    # Required like n and r: the format marks only g itself optional (docs/format.md §2.2-2.4).
    if not isinstance(sub, bytes) or len(sub) != 16:
        raise _malformed("guardian pseudonym (g.sub) missing or not 16 bytes")
    return Guardian(name=name, relation=rel, subject=sub)


def _claims(payload: bytes) -> HealthClaims:
    cwt = decode_cbor(payload, "CWT payload")
    if not is_map(cwt):
        raise _malformed("CWT payload is not a map")
    hc = cwt.get(-65537)
    if not is_map(hc):
        raise _malformed("health-code claims (-65537) missing or not a map")
    # `type(x) is int` is `_is_int(x)` for what cbor2 decodes (its only int subclass is bool), without
    # a call per claim.
    v = hc.get("v")
    if type(v) is not int or v < 0:
        raise _malformed("claims version (v) missing or not an unsigned integer")
    # A newer claims version may mean anything: never guess at it.
    if v != CLAIMS_VERSION:
        raise CodeError("unsupported", f"claims version {v} is not supported")
    iss, iat, exp, cti = cwt.get(1), cwt.get(6), cwt.get(4), cwt.get(7)
    if not isinstance(iss, str) or not iss:
        raise _malformed("issuer (iss) missing or not text")
    if type(iat) is not int:
        raise _malformed("issued-at (iat) missing or not an integer")
    if type(exp) is not int:
        raise _malformed("expiry (exp) missing or not an integer")
    if not isinstance(cti, bytes) or len(cti) != 16:
        raise _malformed("code id (cti) missing or not 16 bytes")
    sub, name, s, sd, t = hc.get("sub"), hc.get("n"), hc.get("s"), hc.get("sd"), hc.get("t")
    if not isinstance(sub, bytes) or len(sub) != 16:
        raise _malformed("subject (sub) missing or not 16 bytes")
    if not isinstance(name, str):
        raise _malformed("name (n) missing or not text")
    if type(s) is not int or not 0 <= s <= 2:
        raise _malformed("status (s) missing or not 0, 1 or 2")
    if type(sd) is not int:
        raise _malformed("status date (sd) missing or not an integer")
    if type(t) is not int or not 0 <= t <= 1:
        raise _malformed("code type (t) missing or not 0 or 1")
    guardian = _guardian(hc["g"]) if "g" in hc else None
    # Fields in order, made as the named tuple's own `__new__` makes them, without that Python-level call.
    return _new_tuple(HealthClaims, (iss, iat, exp, cti, v, sub, name, s, sd, t == 1, guardian))


def _unsupported_claims(payload: bytes) -> None:
    """Raise the claims' refusal when it is `unsupported` (an unknown claims version); else nothing."""
    try:
        _claims(payload)
    except CodeError as e:
        if e.verdict == "unsupported":
            raise


class HCC1:
    """The HCC1 format."""

    name = "HCC1"
    prefix = PREFIX

    def decode(self, text: str) -> DecodedCode:
        cose = _decompress(base45_body(text, PREFIX))
        protected, unprotected, payload, signature = cose_parts(decode_cbor(cose, "COSE message"))
        try:
            alg, kid, signed_head = _header(protected, unprotected)
        except CodeError as e:
            # An unknown claims version is `unsupported`, which comes before `malformed` (§5).
            if e.verdict == "malformed":
                _unsupported_claims(payload)
            raise
        claims = _claims(payload)
        # The Sig_structure is rebuilt from the exact bytes received, never re-encoded claims.
        signed = signed_head + cbor2.dumps(payload)
        return _new_tuple(DecodedCode, (self.name, alg, kid, signed, signature, claims))  # as above
