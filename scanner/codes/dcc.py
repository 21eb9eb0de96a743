"""Decoder for EU Digital COVID Certificates: `"HC1:" Base45( zlib( COSE_Sign1 ) )` carrying CWT claims.

The COSE message may be tagged 18, untagged, or wrapped in the CWT tag 61; the kid and alg sit in the
protected header or, when that has none, in the unprotected one. The payload (claim -260, key 1) is the DCC JSON
document, kept as JSON-safe data for display and for the business rules. Unlike HCC1, an uncompressed
COSE message is refused: the DCC specification requires zlib. Failures are `CodeError`s with the verdicts
of `docs/format.md` §5.2; the signature and the signer are `scanner.dcc`'s job.
"""

from __future__ import annotations

import base64
import math
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import field
from datetime import date, datetime
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import cbor2

from keys.frozen import frozen
from keys.hcc1 import MAX_DECOMPRESSED
from keys.jsontypes import Cbor, Json, JsonObject
from keys.signing import COSE_SIGNATURE_ALGS
from scanner.codes import DCC_PREFIX
from scanner.codes.base import CodeError
from scanner.codes.dccschema import schema_problem
from scanner.codes.hcc1 import base45_body, cose_parts, crit_problem, decode_cbor, is_map, sig_structure_head

TYPE_NAMES = {"v": "vaccination", "t": "test", "r": "recovery"}
COSE_ALG_NAMES = {-7: "ES256", -35: "ES384", -36: "ES512", -37: "PS256", -38: "PS384", -39: "PS512"}
# Per type, the entry fields a guard or a log needs (the rest stays in `hcert`).
_FACTS = {
    "v": {"dn": "dose", "sd": "doses", "dt": "date", "mp": "product", "ma": "manufacturer", "co": "country",
          "ci": "uci"},
    "t": {"tt": "test_type", "tr": "result", "sc": "sample_time", "nm": "test_name", "ma": "test_device",
          "tc": "centre", "co": "country", "ci": "uci"},
    "r": {"fr": "first_positive", "df": "valid_from", "du": "valid_until", "co": "country", "ci": "uci"},
}


_COUNTRY = re.compile(r"[A-Z]{2,3}")
# Types json_safe returns unchanged (exact types: a subclass of int, say, still goes through it). Not float:
# NaN and the infinities are CBOR but not JSON.
_PLAIN = frozenset({str, int, bool, type(None)})
_GROUPS = ("v", "t", "r")
_GROUP_SET = frozenset(_GROUPS)


def _malformed(reason: str) -> CodeError:
    return CodeError("malformed", reason)


def _num(v: object) -> int | None:
    """A CWT number (an integer, or a float: NumericDate allows one) in whole seconds; None for anything else,
    an infinite or NaN float included (no time at all, and `int()` of one raises)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    return int(v) if isinstance(v, float) and math.isfinite(v) else None


def json_safe(v: Cbor) -> Json:
    """CBOR data as JSON data: what CertLogic and `--json` see (text keys, dates as ISO text)."""
    t = type(v)
    # The exact-type tests first: nearly every value of a real payload is text, a number or a map,
    # and a map's or list's plain members are taken as they are rather than through a call each.
    if t is str or t is int or t is bool or v is None:
        return v
    if t is float:
        return v if math.isfinite(v) else None  # as JavaScript's JSON.stringify writes NaN and Infinity
    if t is dict:
        return {k if type(k) is str else str(k): x if type(x) in _PLAIN else json_safe(x) for k, x in v.items()}
    if t is list:
        return [x if type(x) in _PLAIN else json_safe(x) for x in v]
    if is_map(v):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [json_safe(x) for x in v]
    if isinstance(v, float):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, str | int | bool) or v is None:
        return v
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, cbor2.CBORTag):
        return json_safe(v.value)
    return str(v)


def _json(v: Cbor) -> Json:
    return v if type(v) in _PLAIN else json_safe(v)


def _text(v: object) -> str:
    return v if isinstance(v, str) else ""


@frozen
class DccInfo:
    """What a DCC says, for the screen, `--json` and the business rules.

    The payload stays as decoded CBOR (`payload`); its JSON form (`hcert`) and the schema check
    (`schema_problem`) are made when first read: the verdict needs only the fields below, so a gate
    that only decides never pays for them, while the rules and `--json` always get them.
    """

    kind: str | None           # "v", "t" or "r"; None unless exactly one group is present
    kinds: tuple[str, ...]     # every group present (a valid DCC has exactly one)
    payload: Mapping[Any, Cbor]  # the payload (claim -260, key 1) as decoded
    country: str               # the CWT issuer, else the entry's country of vaccination/test/recovery
    family: str
    given: str
    family_std: str
    given_std: str
    dob: str
    # The group's (first) entry, as decoded or as JSON; `facts` and `uci` read it.
    entry: Mapping[Any, Cbor] = field(compare=False)
    signer_country: str | None = None

    def with_signer(self, country: str) -> DccInfo:
        # A copy of the fields (and of anything already made from them) rather than a call of the
        # constructor, which costs twice as much on every DCC checked.
        other = object.__new__(DccInfo)
        object.__setattr__(other, "__dict__", {**self.__dict__, "signer_country": country})
        return other

    @cached_property
    def hcert(self) -> JsonObject:
        """The payload as JSON data: what CertLogic and `--json` see (text keys, dates as ISO text)."""
        data: JsonObject = json_safe(self.payload)
        return data

    @cached_property
    def facts(self) -> JsonObject:
        """The entry's fields a guard or a log needs, by name, as JSON data."""
        e = self.entry
        return {name: _json(e[k]) for k, name in _FACTS.get(self.kind or "", {}).items() if k in e}

    @property
    def uci(self) -> str:
        """The unique certificate identifier (`ci`) as text, "" when there is none: what revocation hashes."""
        e = self.entry
        return str(_json(e["ci"])) if "ci" in e else ""

    @cached_property
    def schema_problem(self) -> str | None:
        """None when the payload matches the DCC schema 1.3, else the first mismatch in words."""
        return schema_problem(self.hcert)

    @property
    def notes(self) -> tuple[str, ...]:
        """What is worth reporting about a certificate that does not change its verdict."""
        problem = self.schema_problem
        return (problem,) if problem else ()

    @property
    def type(self) -> str | None:
        return TYPE_NAMES.get(self.kind or "")

    @property
    def name_latin(self) -> str:
        """The ICAO-transliterated name as a passport's machine-readable zone has it, made readable."""
        fam, giv = self.family_std.replace("<", " ").strip(), self.given_std.replace("<", " ").strip()
        return f"{fam}, {giv}" if fam and giv else fam or giv

    @property
    def name_printed(self) -> str:
        fam, giv = self.family.strip(), self.given.strip()
        return f"{fam}, {giv}" if fam and giv else fam or giv

    def to_json(self) -> JsonObject:
        return {"type": self.type, "schema_version": self.hcert.get("ver"),
                "name": {"standardised": self.name_latin, "printed": self.name_printed,
                         "family": self.family, "given": self.given,
                         "family_std": self.family_std, "given_std": self.given_std},
                "dob": self.dob, "country": self.country, "signer_country": self.signer_country,
                "facts": self.facts, "schema_problem": self.schema_problem}


class DecodedDcc(NamedTuple):
    alg: int
    kid: bytes
    signed_data: bytes
    signature: bytes
    issuer: str | None
    iat: int
    exp: int
    info: DccInfo


def _info_from_json(data: Mapping[str, Json], payload: Mapping[Any, Cbor], iss: str | None) -> DccInfo:
    """The fields the verdict and the screen need, read from the payload's JSON form `data`."""
    kinds = tuple(k for k in _GROUPS if data.get(k))
    kind = kinds[0] if len(kinds) == 1 else None
    entry: Mapping[str, Json] = {}
    if kind is not None:
        group = data[kind]
        first = group[0] if isinstance(group, list) and group else group
        entry = first if is_map(first) else {}
    nam = data.get("nam")
    nam = nam if is_map(nam) else {}
    # Some issuers put a ministry's name in iss: show a country code only.
    country = iss if iss and _COUNTRY.fullmatch(iss) else _text(entry.get("co"))
    return DccInfo(kind=kind, kinds=kinds, payload=payload, country=country, family=_text(nam.get("fn")),
                   given=_text(nam.get("gn")), family_std=_text(nam.get("fnt")), given_std=_text(nam.get("gnt")),
                   dob=_text(data.get("dob")), entry=entry)


def _info(payload: Mapping[Any, Cbor], iss: str | None) -> DccInfo:
    """`_info_from_json` of the payload's JSON form, without making that form for a payload as real DCCs are.

    A real payload is a dict with one group, a list of dict entries, and text and numbers where the
    fields are read: those are then the same in the JSON form, so they are read from the payload
    directly. Anything else takes the general path, which makes the JSON form first.
    """
    if type(payload) is dict:
        groups = payload.keys() & _GROUP_SET
        group = payload[next(iter(groups))] if len(groups) == 1 else None
        nam = payload.get("nam", {})
        if type(group) is list and group and type(entry := group[0]) is dict and type(nam) is dict:
            co, fn, gn, fnt, gnt, dob = (entry.get("co"), nam.get("fn"), nam.get("gn"), nam.get("fnt"),
                                         nam.get("gnt"), payload.get("dob"))
            if _PLAIN.issuperset(map(type, (iss, co, fn, gn, fnt, gnt, dob))):
                kind = next(iter(groups))
                # Positional, in field order (kind, kinds, payload, country, family, given, family_std,
                # given_std, dob, entry): keywords cost a third more, on every DCC checked.
                return DccInfo(kind, (kind,), payload,
                               iss if type(iss) is str and _COUNTRY.fullmatch(iss) else co if type(co) is str else "",
                               fn if type(fn) is str else "", gn if type(gn) is str else "",
                               fnt if type(fnt) is str else "", gnt if type(gnt) is str else "",
                               dob if type(dob) is str else "", entry)
    return _info_from_json(json_safe(payload), payload, iss)


def _inflate(raw: bytes) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(raw, MAX_DECOMPRESSED + 1)
    except zlib.error as e:
        if raw[:1] in (b"\xd2", b"\xd8", b"\x84"):
            raise _malformed("COSE message is not zlib-compressed (a DCC must be)") from None
        raise _malformed(f"not zlib data ({e})") from None
    if len(out) > MAX_DECOMPRESSED or d.unconsumed_tail:
        raise _malformed(f"decompresses to more than {MAX_DECOMPRESSED} bytes")
    if not d.eof:
        raise _malformed("zlib stream is truncated")
    return out


def _shares_values(root: Cbor) -> bool:
    """Whether some non-empty map, array or tag in `root` is reached twice: CBOR value sharing (tags 28/29)
    at work, since the decoder makes a new object for every other item."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        v = stack.pop()
        if isinstance(v, cbor2.CBORTag):
            children: Iterable[Cbor] = (v.value,)
        elif is_map(v):
            children = (*v.keys(), *v.values())
        elif isinstance(v, list | tuple | set | frozenset):
            children = v
        else:
            continue
        # An empty container holds nothing to loop through or multiply (and `()` is one shared object).
        if not children:
            continue
        if id(v) in seen:
            return True
        seen.add(id(v))
        stack.extend(children)
    return False


def _unwrap(msg: Cbor) -> Cbor:
    # CWT tag 61 may wrap the COSE_Sign1, itself tagged 18 or not.
    if isinstance(msg, cbor2.CBORTag) and msg.tag == 61:
        msg = msg.value
    return msg


_ABSENT = object()


@lru_cache(maxsize=1024)
def _protected(protected: bytes) -> tuple[Cbor, Cbor, bytes, tuple[str, str] | None]:
    """A protected header's alg (`_ABSENT` when it has none), kid (None when it has none), the start of
    every Sig_structure made with it (all of it but the payload's byte string), and the (verdict, reason)
    its `crit` earns (`crit_problem`), None when it has no refusal to give.

    Every code a DSC signs carries the same protected header (its kid and alg), so a gate meets few
    different ones: each is decoded once. An undecodable header raises each time (nothing is cached).
    """
    prot = decode_cbor(protected, "protected header") if protected else {}
    if not is_map(prot):
        raise _malformed("protected header is not a map")
    crit = crit_problem(prot)
    return (prot.get(1, _ABSENT), prot.get(4), sig_structure_head(protected),
            (crit.verdict, crit.reason) if crit is not None else None)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The COSE Sig_structure of a COSE_Sign1 (`["Signature1", protected, b"", payload]`, encoded): the bytes
    its signature covers."""
    return _protected(protected)[2] + cbor2.dumps(payload)


def _headers(protected: bytes, unprotected: Mapping[object, object]) -> tuple[int, bytes]:
    alg, kid, _, crit = _protected(protected)
    # Real codes carry alg in the unprotected header when the protected one is empty.
    if alg is _ABSENT:
        alg = unprotected.get(1)
    if alg is None:
        raise _malformed("no alg in either COSE header")
    if isinstance(alg, str):  # RFC 9052 §3.1: an alg is an int or a text; no DCC algorithm is a text
        raise CodeError("unsupported", f"signature algorithm {alg!r} is not supported")
    if _num(alg) is None or isinstance(alg, float):
        raise _malformed("alg is not an integer")
    if alg not in COSE_SIGNATURE_ALGS:
        raise CodeError("unsupported", f"signature algorithm {alg} is not supported")
    if crit is not None:
        raise CodeError(*crit)
    if 2 in unprotected:
        raise _malformed("crit is in the unprotected header (RFC 9052 §3.1: only in the protected one)")
    if kid is None:
        kid = unprotected.get(4)
    if kid is None:
        raise _malformed("no kid in either COSE header")
    if not isinstance(kid, bytes):
        raise _malformed("kid is not a byte string")
    return alg, kid


def decode_dcc(text: str) -> DecodedDcc:
    """Decode an `HC1:` payload (already stripped of surrounding whitespace)."""
    cose = _inflate(base45_body(text, DCC_PREFIX))
    protected, unprotected, payload, signature = cose_parts(_unwrap(decode_cbor(cose, "COSE message")))
    alg, kid = _headers(protected, unprotected)
    cwt = decode_cbor(payload, "CWT payload")
    if not is_map(cwt):
        raise _malformed("CWT payload is not a map")
    iss, iat, exp = cwt.get(1), _num(cwt.get(6)), _num(cwt.get(4))
    if iat is None:
        raise _malformed("issued-at (iat) missing or not a number")
    if exp is None:
        raise _malformed("expiry (exp) missing or not a number")
    hc = cwt.get(-260)
    hcert = hc.get(1) if is_map(hc) else None
    if not is_map(hcert):
        raise _malformed("DCC payload (claim -260, key 1) missing or not a map")
    # Every encoding of tag 28 (shareable) holds the byte 0x1C, so most payloads need no walk.
    if b"\x1c" in payload and _shares_values(hcert):
        raise _malformed("DCC payload uses CBOR shared values (tags 28/29); a DCC payload is JSON data")
    issuer = iss if isinstance(iss, str) and iss else None
    # Positional (alg, kid, signed_data, signature, issuer, iat, exp, info): keywords cost twice as much.
    return DecodedDcc(alg, kid, sig_structure(protected, payload), signature, issuer, iat, exp, _info(hcert, issuer))
