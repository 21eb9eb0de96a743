"""The CertLogic specification test suite (`tests/data/certlogic/`) as a flat list, and its notion of equal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.helpers import CERTLOGIC_SUITE


@dataclass(frozen=True)
class Assertion:
    id: str
    expr: Any
    data: Any
    expected: Any


def suite_assertions() -> list[Assertion]:
    """Every assertion of every suite file, "skip" directives included; its own expression wins."""
    found = []
    for path in sorted(CERTLOGIC_SUITE.glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        for c, case in enumerate(suite["cases"]):
            for a, assertion in enumerate(case["assertions"]):
                expr = assertion.get("certLogicExpression", case.get("certLogicExpression"))
                found.append(Assertion(f"{path.stem}:{c}.{a}", expr, assertion["data"], assertion["expected"]))
    return found


def deep_equal(a: Any, b: Any) -> bool:
    """chai's deepEqual on JSON values, as the reference runner compares: strict types, 1 == 1.0."""
    number = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, number) and isinstance(b, number):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
