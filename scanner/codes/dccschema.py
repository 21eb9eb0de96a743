"""The DCC payload's JSON schema (1.3.x, vendored in `schema/`), checked leniently.

Certificates made to schema 1.0.x-1.2.x lack fields and value formats 1.3 added, and real ones often
bend the schema in harmless ways, so a schema failure is reported next to the verdict, never a refusal.
The schema is compiled once (fastjsonschema) on first use.

Two things make the compiled check cheaper without changing what it accepts or says. Every `$ref` is
replaced by the definition it names (the schema has no recursion, and its refs' sibling keywords are
only descriptions), so the check is one function instead of a call per field. And the schema's
top-level `oneOf` (exactly one of the v/t/r groups, each with ver, nam and dob) is checked
here as set inclusions rather than by the compiled code, which tries every branch inside a `try` and
builds an exception for each one that does not match: that alone was half the cost of the check. The
outcome and the message are the compiled code's own (it stops counting at two matches).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources

import fastjsonschema

from keys.jsontypes import Json

SCHEMA_FILE = "DCC.combined-schema.json"
_DEFS = "#/$defs/"


def _inline(node: Json, defs: Mapping[str, Json]) -> Json:
    """`node` with every `{"$ref": "#/$defs/NAME", ...}` replaced by that definition, inlined in turn."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            return _inline(defs[ref.removeprefix(_DEFS)], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


@cache
def _validator() -> tuple[tuple[frozenset[str], ...], Callable[[Json], Json]]:
    """The `oneOf` branches' required members, and the compiled check of the rest of the schema."""
    schema = json.loads(resources.files("scanner.codes").joinpath("schema", SCHEMA_FILE).read_text("utf-8"))
    # fastjsonschema knows drafts 4-7; the schema only uses what draft 7 has ($defs resolve as JSON pointers).
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema.pop("$id", None)
    branches = schema.pop("oneOf")
    if any(set(b) != {"required"} for b in branches):
        raise ValueError(f"{SCHEMA_FILE}: a top-level oneOf branch is more than a list of required members")
    defs = schema.pop("$defs")
    schema = _inline(schema, defs)
    check = fastjsonschema.compile(schema, formats={"date-time": r"^\d{4}-\d{2}-\d{2}T.*"})
    return tuple(frozenset(b["required"]) for b in branches), check


def schema_problem(hcert: Json) -> str | None:
    """None when the payload matches the schema, else the first mismatch in words."""
    branches, check = _validator()
    try:
        if isinstance(hcert, dict):  # else the compiled check says it is not an object
            keys = hcert.keys()
            matches = sum(1 for required in branches if required <= keys)
            if matches != 1:
                return f"schema 1.3: payload must be valid exactly by one definition ({min(matches, 2)} matches found)"
        check(hcert)
    except fastjsonschema.JsonSchemaValueException as e:
        return "schema 1.3: " + str(e.message).replace("data", "payload", 1)
    return None
