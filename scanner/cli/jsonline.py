"""`checkpoint check --json`'s line for a decision: `json.dumps(d.to_json(), ensure_ascii=False)`, quicker.

Encoding the whole object took as long as the rest of a code's check in Python. Most of it is the same for
every code of one kind (the verdict, the issuer and its names, the venue's words): only the holder's name,
the ids, the times, the reasons and the list versions differ. So for each kind of decision the object is
encoded once, by the same encoder, with markers in those fields; the text is cut at the markers, and a
line is the pieces joined with its own values encoded as the encoder encodes them. The kind is told by the
identity of the objects a decision shares with others (the profile's words, the trust list's names, enum
members, True and False), which the template's entry keeps alive (it holds the decision it was made from)
so that no other object can take their id, and by the value of its strings.

A decision this does not cover (an EU DCC's contents, a guardian, a field of an unexpected type) is
encoded whole. tests/scanner/cli/test_check_output.py holds every line to `json.dumps`'s.
"""

from __future__ import annotations

import dataclasses
import json
import os
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.policy import Decision

# `json.dumps(value, ensure_ascii=False)` builds an encoder per call: one encoder with the same settings
# writes the same text.
JSON_TEXT = json.JSONEncoder(ensure_ascii=False).encode

# The fields filled per code, in the object's order; each marker is random, so no constant text holds it.
HOLES = ("name", "code_id", "subject", "iat", "exp", "kid", "reasons", "trust_list_version",
          "status_list_version")
_MARKS = {name: os.urandom(12).hex() for name in HOLES}
_BYTES_HOLES = ("code_id", "subject", "kid")
# Every other field of a decision and its result is part of a template's key (`json_line`), makes a line
# encoded whole, or is not written at all. tests/scanner/cli/test_check_output.py holds these to the
# records' fields, so that a new field cannot end up fixed in a template.
KEYED = ("format", "issuer", "verdict", "status", "issuer_name", "code_type", "failed_rule", "profile", "outcome",
         "admit", "tone", "headline", "guidance", "reason", "alert_guard", "clock_trusted")
WHOLE = ("dcc", "guardian")
NOT_WRITTEN = ("extra",)
# Templates by kind of decision, each with the decision it was made from; cleared when full (a command
# meets a few kinds: a handful of verdicts and statuses per issuer).
_TEMPLATES: dict[tuple[object, ...], tuple[tuple[str, ...] | None, Decision]] = {}
_MAX_TEMPLATES = 256


def _template(d: Decision) -> tuple[str, ...] | None:
    """The decision's object encoded, cut into the text around the fields of `HOLES`, or None if their
    markers do not come out whole, once each and in that order (such a decision is encoded whole)."""
    r = d.result
    marked: dict[str, Any] = {name: _MARKS[name] for name in HOLES}
    for name in _BYTES_HOLES:
        marked[name] = bytes.fromhex(_MARKS[name])
    marked["reasons"] = (_MARKS["reasons"],)
    text = JSON_TEXT(dataclasses.replace(d, result=dataclasses.replace(r, **marked)).to_json())
    pieces, start = [], 0
    for name in HOLES:
        quoted = f'["{_MARKS[name]}"]' if name == "reasons" else f'"{_MARKS[name]}"'
        at = text.find(quoted, start)
        if at < 0 or text.count(quoted) != 1:
            return None
        pieces.append(text[start:at])
        start = at + len(quoted)
    return (*pieces, text[start:])


def _int_text(v: object) -> str:
    if v is None:
        return "null"
    return int.__repr__(v) if v.__class__ is int else JSON_TEXT(v)


def _str_text(v: object) -> str:
    return encode_basestring(v) if v.__class__ is str else JSON_TEXT(v)


def json_line(d: Decision) -> str:
    """`json.dumps(d.to_json(), ensure_ascii=False)`."""
    r = d.result
    if r.dcc is not None or r.guardian is not None or r.reasons.__class__ is not tuple:
        return JSON_TEXT(d.to_json())
    # The kind of decision: its strings by value, the objects it shares with others by identity (the entry
    # keeps this decision, and so those objects, alive: no other object can take their ids meanwhile).
    key = (r.format, r.issuer, d.profile, d.outcome, id(d.__class__), id(r.__class__), id(r.verdict), id(r.status),
           id(r.issuer_name), id(r.code_type), id(r.failed_rule), id(d.admit), id(d.tone), id(d.headline),
           id(d.guidance), id(d.reason), id(d.alert_guard), id(d.clock_trusted))
    known = _TEMPLATES.get(key)
    if known is None:
        if len(_TEMPLATES) >= _MAX_TEMPLATES:
            _TEMPLATES.clear()
        known = _TEMPLATES[key] = (_template(d), d)
    t = known[0]
    if t is None:
        return JSON_TEXT(d.to_json())
    cid, sub, kid, iat, exp, tlv, slv = r.code_id, r.subject, r.kid, r.iat, r.exp, r.trust_list_version, \
        r.status_list_version
    name = r.name
    # Pieces joined in one step (`str.format` on a template would parse it again for every line); the
    # usual types written here, anything else by the encoder.
    return "".join((
        t[0], encode_basestring(name) if name.__class__ is str else JSON_TEXT(name),
        t[1], f'"{cid.hex()}"' if cid else "null",
        t[2], f'"{sub.hex()}"' if sub else "null",
        t[3], int.__repr__(iat) if iat.__class__ is int else _int_text(iat),
        t[4], int.__repr__(exp) if exp.__class__ is int else _int_text(exp),
        t[5], f'"{kid.hex()}"' if kid else "null",
        t[6], f"[{', '.join(map(_str_text, r.reasons))}]",
        t[7], int.__repr__(tlv) if tlv.__class__ is int else _int_text(tlv),
        t[8], int.__repr__(slv) if slv.__class__ is int else _int_text(slv),
        t[9]))
