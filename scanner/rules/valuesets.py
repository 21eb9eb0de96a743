"""EU DCC value sets: the code lists business rules see as `external.valueSets`, and their display names.

A value set file is `{"valueSetId", "valueSetDate", "valueSetValues": {code: {"display", …}}}` as the EU
publishes it. The shipped copy (`scanner/rules/eu-valuesets/`, package data) is what `checkpoint rules
sign-list` packs into a rules list by default and what display names come from; on a device the rules
list's own value sets are the ones rules are evaluated with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from keys.jsontypes import Json
from scanner.errors import RulesError

PACKAGE = "scanner.rules"
SHIPPED_DIR = "eu-valuesets"


@dataclass(frozen=True)
class ValueSet:
    id: str
    date: str
    # code -> display name (the code itself when the file gives none)
    values: dict[str, str] = field(default_factory=dict)


def parse_value_set(doc: Json, source: str) -> ValueSet:
    """One EU value set document, checked; `RulesError` names the file and what is wrong."""
    if not isinstance(doc, dict):
        raise RulesError(f"{source}: a value set is a JSON object")
    set_id, date, values = doc.get("valueSetId"), doc.get("valueSetDate", ""), doc.get("valueSetValues")
    if not isinstance(set_id, str) or not set_id:
        raise RulesError(f"{source}: valueSetId missing or not a string")
    if not isinstance(date, str):
        raise RulesError(f"{source}: valueSetDate is not a string")
    if not isinstance(values, dict):
        raise RulesError(f"{source}: valueSetValues missing or not an object")
    names = {}
    for code, entry in values.items():
        display = entry.get("display") if isinstance(entry, dict) else None
        names[code] = display if isinstance(display, str) and display else code
    return ValueSet(set_id, date, names)


@dataclass(frozen=True)
class ValueSets:
    sets: dict[str, ValueSet] = field(default_factory=dict)

    def codes(self) -> dict[str, list[str]]:
        """`external.valueSets` for rules: value set id -> its codes."""
        return {set_id: list(vs.values) for set_id, vs in self.sets.items()}

    def display(self, set_id: str, code: str) -> str | None:
        vs = self.sets.get(set_id)
        return vs.values.get(code) if vs else None


def load_value_sets(directory: Path | None = None) -> ValueSets:
    """Every `*.json` value set in `directory`, or the shipped copy when None."""
    if directory is None:
        files = [(f"{PACKAGE}/{SHIPPED_DIR}/{p.name}", p.read_text(encoding="utf-8"))
                 for p in resources.files(PACKAGE).joinpath(SHIPPED_DIR).iterdir() if p.name.endswith(".json")]
    else:
        try:
            files = [(str(p), p.read_text(encoding="utf-8")) for p in sorted(Path(directory).glob("*.json"))]
        except (OSError, UnicodeDecodeError) as e:
            raise RulesError(f"{directory}: cannot read value sets: {e}") from None
        if not files:
            raise RulesError(f"{directory}: no value set files (*.json)")
    sets: dict[str, ValueSet] = {}
    for source, text in sorted(files):
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise RulesError(f"{source}: not JSON ({e})") from None
        vs = parse_value_set(doc, source)
        if vs.id in sets:
            raise RulesError(f"{source}: value set {vs.id} appears twice")
        sets[vs.id] = vs
    return ValueSets(sets)
