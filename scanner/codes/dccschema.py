"""The DCC payload's JSON schema (1.3.x, vendored in `schema/`), checked leniently.

Certificates made to schema 1.0.x-1.2.x lack fields and value formats 1.3 added, and real ones often
bend the schema in harmless ways, so a schema failure is reported next to the verdict, never a refusal.
The schema is compiled once (fastjsonschema) on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources

import fastjsonschema

from keys.jsontypes import Json

SCHEMA_FILE = "DCC.combined-schema.json"


@cache
def _validator() -> Callable[[Json], Json]:
    schema = json.loads(resources.files("scanner.codes").joinpath("schema", SCHEMA_FILE).read_text("utf-8"))
    # fastjsonschema knows drafts 4-7; the schema only uses what draft 7 has ($defs resolve as JSON pointers).
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema.pop("$id", None)
    return fastjsonschema.compile(schema, formats={"date-time": r"^\d{4}-\d{2}-\d{2}T.*"})


def schema_problem(hcert: Json) -> str | None:
    """None when the payload matches the schema, else the first mismatch in words."""
    try:
        _validator()(hcert)
    except fastjsonschema.JsonSchemaValueException as e:
        return "schema 1.3: " + str(e.message).replace("data", "payload", 1)
    return None
