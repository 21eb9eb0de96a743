"""The visit row: its fields (declared once for the device and the hub), venue extra fields, the canonical
row encoding and the hash chain.

Kept apart from `scanner/storage/visitlog.py` because the hub (`sync/hub/`) re-computes the same chain from
uploaded rows and must agree byte for byte with the device.

Canonical row encoding (format 1)
---------------------------------
The bytes hashed for a row are the UTF-8 encoding of a JSON object holding exactly the fields of
`CHAIN_FIELDS` (plus `"v": 1`), with

* keys sorted, separators `","` and `":"`, no whitespace, non-ASCII characters kept as UTF-8
  (`json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`);
* booleans as `true`/`false`, missing values as `null`, integers as JSON integers (no floats
  anywhere: the time is `ts_ms`, integer Unix milliseconds, the latency `latency_ms`, integer
  milliseconds), byte strings (code id, subject pseudonym) as lower-case hex;
* `extra` as a JSON object, also with sorted keys (an empty object when there is nothing);
* the later fields (`LATER_FIELDS`: `decided_by`, `gate`, `ref_visit`, `outcome`) only when not null, so
  rows written before they existed keep their hashes.

A row with `decided_by = "guard"` is the guard's decision on the manual check its `ref_visit` names; a row
with `decided_by = "clerk"` adds the drug categories sold to the admitted pharmacy visit `ref_visit` (the
visit itself was logged at the decision, so a crash loses nothing). Neither is a new person at the gate.

`seq` (1, 2, 3 … per log) is part of the hashed bytes, so reordering is detected as well.

Chain: `chain = SHA-256(prev_chain_bytes ‖ canonical_bytes)`, stored as lower-case hex. The first row
of a log has `prev_chain` = 32 zero bytes (`GENESIS`). Every row stores its `prev_chain` too: a verifier
checks that each row's `prev_chain` equals the previous row's `chain` and that its `chain` is the hash
above, so an edit, a deletion or an insertion anywhere shows. When retention purges old (synced) rows,
the `chain_anchor` in the `meta` table moves forward in the same transaction; the first remaining row
must link to that anchor, so deleting rows at the head without the purge is detected too.

Log identity and signed checkpoints
-----------------------------------
Each log has a `log_id` (32 random lower-case hex characters, created with the database, in `meta`): a
wiped data directory starts a new log, so the hub never mistakes its restarted `seq` for a replay. A
chain alone has no key: whoever can write the file can truncate the tail or recompute every hash after
an edit. So the device key signs `checkpoint_message(device_id, log_id, seq, chain)` (ECDSA P-256,
SHA-256, DER, base64) for the log's head from time to time; the checkpoints are kept in the log and
sent to the hub, which acknowledges `(last_seq, last_chain)`. A verifier then refuses a log whose rows
do not reach a signed checkpoint or the hub's acknowledgement, or whose hash there differs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Mapping
from typing import TypedDict

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from keys.jsontypes import Json, JsonObject
from scanner.errors import InputError

FORMAT_VERSION = 1
GENESIS = "00" * 32

# The visit row, declared once for the device's log and the hub: each field covered by the chain, with its
# JSON type, in the order the export writes them. The hub's upload model is built from this table
# (`sync.hub`), and `VisitRecord` (the device's typed builder) is checked against it by the tests.
VISIT_FIELDS: dict[str, type | tuple[type, None]] = {
    "seq": int,
    "visit_id": str,
    "ts_ms": int,
    "device_id": str,
    "checkpoint_id": str,
    "profile": str,
    "clock_trusted": bool,
    "format": (str, None),
    "issuer": (str, None),
    "code_id": (str, None),
    "subject": (str, None),
    "code_type": (str, None),
    "verdict": str,
    "status": (str, None),
    "admit": bool,
    "tone": str,
    "guardian": bool,
    "trust_list_version": (int, None),
    "status_list_version": (int, None),
    "latency_ms": int,
    "extra": dict,
    # Added with format 1 kept: left out of the canonical bytes when null, so older rows hash as before.
    "decided_by": (str, None),  # "device" | "guard" (after a manual check) | "clerk" (pharmacy registration)
    "gate": (str, None),  # "open": the turnstile was opened for this row; "failed": the output failed
    "ref_visit": (str, None),  # the visit this row completes or repeats (guard decision, registration)
    "outcome": (str, None),  # the venue profile's outcome: "green", "clock_untrusted", "already_admitted", ...
}
# Fields a row may lack (older devices): absent and null are the same, and neither is hashed.
LATER_FIELDS: tuple[str, ...] = ("decided_by", "gate", "ref_visit", "outcome")
DECIDED_BY = ("device", "guard", "clerk")
CHAIN_FIELDS: tuple[str, ...] = tuple(VISIT_FIELDS)
ROW_FIELDS: tuple[str, ...] = (*CHAIN_FIELDS, "prev_chain", "chain")
BOOL_FIELDS: tuple[str, ...] = tuple(name for name, t in VISIT_FIELDS.items() if t is bool)


class VisitRow(TypedDict):
    """A visit row as read back, exported and uploaded: `VISIT_FIELDS` for the type checker (the tests hold
    the two to the same names, order and types)."""

    seq: int
    visit_id: str
    ts_ms: int
    device_id: str
    checkpoint_id: str
    profile: str
    clock_trusted: bool
    format: str | None
    issuer: str | None
    code_id: str | None
    subject: str | None
    code_type: str | None
    verdict: str
    status: str | None
    admit: bool
    tone: str
    guardian: bool
    trust_list_version: int | None
    status_list_version: int | None
    latency_ms: int
    extra: JsonObject
    decided_by: str | None
    gate: str | None
    ref_visit: str | None
    outcome: str | None


class ChainedVisitRow(VisitRow):
    """A visit row with its place in the hash chain (`ROW_FIELDS`)."""

    prev_chain: str
    chain: str


# msgspec's sorted compact encoder writes byte for byte what the json.dumps call above writes for these
# exact types (the hub hashes every uploaded row, and this is several times faster); it writes floats
# and some other types differently, so a row holding anything else (or a non-empty `extra`) goes
# through json.dumps. tests/scanner/storage/test_chain.py holds the two to the same bytes.
_SORTED = msgspec.json.Encoder(order="sorted")
_PLAIN = frozenset({str, int, bool, type(None)})
# A row holding exactly the chained fields (with or without its place in the chain, as the hub's
# decoder and the device's log give it) is copied whole, a C-level copy, instead of field by field.
_WHOLE = (frozenset(CHAIN_FIELDS), frozenset((*CHAIN_FIELDS, "prev_chain", "chain")))


def canonical_bytes(row: Mapping[str, object]) -> bytes:
    """The bytes hashed for one row (see the module docstring)."""
    if isinstance(row, dict) and row.keys() in _WHOLE:
        obj = dict(row)
        obj.pop("prev_chain", None)
        obj.pop("chain", None)
    else:
        obj = dict(zip(CHAIN_FIELDS, map(row.get, CHAIN_FIELDS), strict=True))
    for name in LATER_FIELDS:
        if obj[name] is None:
            del obj[name]
    extra = obj.pop("extra")
    if extra and not isinstance(extra, Mapping):
        raise InputError("extra: expected an object")
    obj["v"] = FORMAT_VERSION
    for name in BOOL_FIELDS:
        obj[name] = bool(obj[name])
    plain = not extra and _PLAIN.issuperset(map(type, obj.values()))
    obj["extra"] = dict(extra) if extra else {}  # (an empty value of any type is an empty object)
    if plain:
        try:
            return _SORTED.encode(obj)
        except (OverflowError, UnicodeEncodeError):
            pass  # a lone surrogate: json.dumps below decides
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_hash(prev_chain: str, row: Mapping[str, object]) -> str:
    """`SHA-256(prev ‖ canonical row bytes)` as lower-case hex."""
    return hashlib.sha256(bytes.fromhex(prev_chain) + canonical_bytes(row)).hexdigest()


def checkpoint_message(device_id: str, log_id: str, seq: int, chain: str) -> bytes:
    """The bytes a device signs to vouch for its log's head (the same on device and hub)."""
    return b"checkpoint-log-v1\n" + f"{device_id}\n{log_id}\n{seq}\n{chain}".encode()


def sign_checkpoint(key: ec.EllipticCurvePrivateKey, message: bytes) -> str:
    """ECDSA P-256 / SHA-256 over `message`, DER, base64."""
    return base64.b64encode(key.sign(message, ec.ECDSA(hashes.SHA256()))).decode("ascii")


def checkpoint_signature_ok(public_key: CertificatePublicKeyTypes | None, message: bytes, signature: str) -> bool:
    """Whether `signature` (base64 DER) is the P-256 key's signature over `message`."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(signature, str):
        return False
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def new_visit_id(now: float | None = None) -> str:
    """A UUIDv7 string: 48-bit Unix milliseconds, then random bits; sorts by creation time."""
    ms = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


DRUG_CATEGORIES = ("antipyretic", "antitussive", "antiviral", "antibiotic", "other")
SCHOOL_ROLES = ("student", "staff", "visitor", "guardian")


def validate_extra(extra: Mapping[str, Json] | None) -> JsonObject:
    """Check the venue-specific fields; unknown keys are refused so nothing identifying slips in.

    * `drug_categories`: pharmacy registration, a list of `DRUG_CATEGORIES`;
    * `school`: school check-in, `{"role": SCHOOL_ROLES, "direction": "in"|"out", "group": class code
      (optional, up to 16 characters), "temperature_dc": body temperature in tenths of °C (optional)}`.
    """
    out: JsonObject = {}
    for key, value in (extra or {}).items():
        if key == "drug_categories":
            if not isinstance(value, list) or not value or any(v not in DRUG_CATEGORIES for v in value):
                raise InputError(f"extra.drug_categories: expected a list of {', '.join(DRUG_CATEGORIES)}")
            out[key] = sorted(set(value))
        elif key == "school":
            out[key] = _validate_school(value)
        else:
            raise InputError(f"extra.{key}: unknown visit field (allowed: drug_categories, school)")
    return out


def _validate_school(value: Json) -> JsonObject:
    if not isinstance(value, dict):
        raise InputError("extra.school: expected an object")
    unknown = set(value) - {"role", "direction", "group", "temperature_dc"}
    if unknown:
        raise InputError(f"extra.school: unknown field(s) {', '.join(sorted(unknown))}")
    if value.get("role") not in SCHOOL_ROLES:
        raise InputError(f"extra.school.role: expected one of {', '.join(SCHOOL_ROLES)}")
    if value.get("direction") not in ("in", "out"):
        raise InputError("extra.school.direction: expected 'in' or 'out'")
    group = value.get("group")
    if group is not None and (not isinstance(group, str) or not 0 < len(group) <= 16):
        raise InputError("extra.school.group: expected a class code of 1 to 16 characters")
    temp = value.get("temperature_dc")
    if temp is not None and (type(temp) is not int or not 300 <= temp <= 450):
        raise InputError("extra.school.temperature_dc: expected tenths of °C between 300 and 450")
    return {k: v for k, v in value.items() if v is not None}
