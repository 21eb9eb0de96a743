"""The DCC schema check answers exactly what the vendored schema, compiled as it stands, answers.

`scanner.codes.dccschema` inlines the schema's `$ref`s and checks its top-level `oneOf` itself to be
cheaper; here the vendored file is compiled unchanged and both must give the same first problem (or
none) for valid payloads and for payloads with groups, fields and values removed or replaced.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import fastjsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.codes.dccschema import SCHEMA_FILE, schema_problem

VALID: dict[str, Any] = {
    "ver": "1.3.0", "dob": "1998-02-26",
    "nam": {"fn": "Musterfrau-Gößinger", "gn": "Gabriele", "fnt": "MUSTERFRAU<GOESSINGER", "gnt": "GABRIELE"},
    "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 2, "sd": 2,
           "dt": "2021-06-03", "co": "DE", "is": "Robert Koch-Institut", "ci": "URN:UVCI:01:DE:X#V"}],
    "t": [{"tg": "840539006", "tt": "LP6464-4", "nm": "PCR", "sc": "2021-06-03T10:00:00Z", "tr": "260415000",
           "tc": "Centre", "co": "DE", "is": "RKI", "ci": "URN:UVCI:01:DE:X#T"}],
    "r": [{"tg": "840539006", "fr": "2021-05-01", "co": "DE", "is": "RKI", "df": "2021-05-20", "du": "2021-11-01",
           "ci": "URN:UVCI:01:DE:X#R"}],
}


def _reference() -> Any:
    schema = json.loads(resources.files("scanner.codes").joinpath("schema", SCHEMA_FILE).read_text("utf-8"))
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema.pop("$id", None)
    return fastjsonschema.compile(schema, formats={"date-time": r"^\d{4}-\d{2}-\d{2}T.*"})


REFERENCE = _reference()


def reference_problem(hcert: Any) -> str | None:
    try:
        REFERENCE(hcert)
    except fastjsonschema.JsonSchemaValueException as e:
        return "schema 1.3: " + str(e.message).replace("data", "payload", 1)
    return None


ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.floats(allow_nan=False),
                       st.sampled_from(["", "DE", "de", "2021-02-30", "2021-06-03", "1.3.0", "X" * 81, "ABC<D",
                                        "2021-06-03T10:00:00Z"]),
                       st.just([]), st.just({}), st.just([{}]))


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    hcert = copy.deepcopy(VALID)
    # Mostly one group, as real certificates have; sometimes none, two or three.
    keep = draw(st.sampled_from(["v", "t", "r"] * 3 + ["", "vt", "vtr"]))
    for group in set("vtr") - set(keep):
        del hcert[group]
    targets = []
    for key, value in hcert.items():
        targets.append((hcert, key))
        inner = value[0] if isinstance(value, list) else value
        if isinstance(inner, dict):
            targets += [(inner, k) for k in inner]
    for _ in range(draw(st.integers(0, 3))):
        if not targets:
            break
        parent, key = draw(st.sampled_from(targets))
        if key not in parent:
            continue
        if draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(ODD_VALUES)
    return hcert


@given(payloads())
@settings(max_examples=600, deadline=None)
def test_same_first_problem_as_the_schema_compiled_unchanged(hcert: Any) -> None:
    assert schema_problem(hcert) == reference_problem(hcert)


def test_one_group_of_each_kind_is_valid_and_two_are_not() -> None:
    for group in ("v", "t", "r"):
        one = {k: v for k, v in VALID.items() if k not in {"v", "t", "r"} - {group}}
        assert schema_problem(one) is None
    assert schema_problem(VALID) == ("schema 1.3: payload must be valid exactly by one definition "
                                     "(2 matches found)")
    assert schema_problem([]) == reference_problem([]) is not None
