"""Test helpers, imported as a package (`from tests.helpers.vectors import CASES`).

`REPO` is the repository root and `VECTORS` the vendored HCC1 conformance vectors (`tests/data/hcc1/`); no
test reads anything outside the repository.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

VECTORS = REPO / "tests" / "data" / "hcc1"
