"""The vendored HCC1 conformance vectors (tests/data/hcc1), run through the library the way the CLI runs them."""

from __future__ import annotations

import contextlib
import json

from keys.errors import StatusListError
from keys.keyfile import load_public_key_pem
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.verify import verify_code
from tests.helpers import VECTORS

CASES: list[dict] = json.loads((VECTORS / "cases.json").read_text(encoding="utf-8"))


def run_case(case: dict, payload: str | None = None) -> dict:
    anchors = [load_public_key_pem(a) for a in case["trust_anchors"]]
    trust = TrustStore.from_document(case["trust_list"], anchors)
    status = StatusStore.open(":memory:")
    for i, sl in enumerate(case["status_lists"]):
        # Refused lists are ignored, as the CLI does.
        with contextlib.suppress(StatusListError):
            status.apply(sl, trust, f"status{i}")
    result = verify_code(payload if payload is not None else case["payload"], trust, status, case["at"],
                         max_code_age=case["max_code_age"])
    return result.to_json()


def assert_matches(expected: dict, got: dict) -> None:
    for key, value in expected.items():
        if key == "guardian" and got["guardian"] is not None:
            assert {"name": got["guardian"]["name"], "relation": got["guardian"]["relation"]} == value
        else:
            assert got[key] == value, f"{key}: expected {value!r}, got {got[key]!r} ({got['reasons']})"
