"""The example rule sets shipped for the demo and pilots, as a rules list's content.

`example-rules/rules.json` holds the rules (country CN) and `example-rules/sets.json` the named sets:
"3G" (vaccinated, tested or recovered), "2G" (vaccinated or recovered), "test-only" (a negative test),
and "hcc1-transport" (an HCC1 regional rule: Shanghai codes at most 12 hours old at transport gates).
The built-in venue profiles name these sets; `checkpoint rules sign-list` packs them when given no files.
"""

from __future__ import annotations

import json
from importlib import resources

from keys.jsontypes import Json, JsonObject
from keys.keyfile import PrivateKey
from scanner.rules.ruleslist import sign_rules_list
from scanner.rules.valuesets import load_value_sets

EXAMPLE_DIR = "example-rules"
EXAMPLE_COUNTRY = "CN"


def _example(name: str) -> Json:
    return json.loads(resources.files("scanner.rules").joinpath(EXAMPLE_DIR, name).read_text(encoding="utf-8"))


def example_rules() -> tuple[list[JsonObject], JsonObject]:
    """(rules, rule sets) as shipped."""
    return _example("rules.json"), _example("sets.json")


def sign_example_rules_list(root: PrivateKey, *, version: int, issued_at: int, next_update: int) -> dict[str, str]:
    """The shipped rules, sets and value sets as a rules list signed with `root` (the demo's, a pilot's)."""
    rules, sets = example_rules()
    return sign_rules_list(root, version=version, issued_at=issued_at, next_update=next_update,
                           country=EXAMPLE_COUNTRY, rules=rules, rule_sets=sets,
                           value_sets=load_value_sets().codes())
