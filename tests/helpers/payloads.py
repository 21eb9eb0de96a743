"""Helpers for the decoding, source and pipeline tests: fresh signed codes and conformance payloads."""

from __future__ import annotations

import json
import time

from tests.helpers import VECTORS


def vector_cases() -> list[dict]:
    return json.loads((VECTORS / "cases.json").read_text(encoding="utf-8"))


def fresh_payloads(n: int, *, iss: str = "CN-ZJ") -> list[str]:
    """`n` distinct, freshly signed HCC1 payloads (what a phone at the gate shows)."""
    from keys.hcc1 import CodeClaims, issue_code
    from keys.keyfile import generate_key

    key = generate_key("ES256")
    now = int(time.time())
    return [issue_code(key, CodeClaims(iss=iss, iat=now, exp=now + 86400, status=i % 3)) for i in range(n)]


def centre(polygon) -> tuple[float, float]:
    return (sum(p[0] for p in polygon) / len(polygon), sum(p[1] for p in polygon) / len(polygon))


def passenger_codes(world, n: int, *, issued_ago: int = 180) -> list[str]:
    """`n` different green codes from the demo world's Zhejiang issuer: a stream of strangers at a gate."""
    from keys.hcc1 import CodeClaims, issue_code

    now = int(time.time())
    return [issue_code(world.issuers["CN-ZJ"], CodeClaims(iss="CN-ZJ", iat=now - issued_ago, exp=now + 86400,
                                                          name=f"乘*{i}")) for i in range(n)]
