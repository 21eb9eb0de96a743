"""Today's tallies for the status bar: admitted, refused, manual checks and repeats, each counted once.

A manual check (the device could not decide: tone "check") is counted apart from refusals; the guard's
decision on it then counts as an admission or a refusal. An anti-passback repeat is neither a second
admission nor a refusal. A pharmacy registration (`decided_by = "clerk"`) is not a visit at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scanner.gate.repeats import ALREADY_ADMITTED
from scanner.status import local_midnight

if TYPE_CHECKING:
    from scanner.policy import Decision
    from scanner.storage.chain import ChainedVisitRow



@dataclass(frozen=True)
class Counts:
    admitted: int = 0
    refused: int = 0
    manual_checks: int = 0
    repeats: int = 0
    acknowledged: int = 0


def kind_of(admit: bool, tone: str, outcome: str | None, decided_by: str | None) -> str | None:
    """Which tally a visit row (or decision) adds to; None for a registration row."""
    by = decided_by or "device"
    if by == "clerk":
        return None
    if outcome == ALREADY_ADMITTED:
        return "repeats"
    if by == "device" and tone == "check":
        return "manual_checks"
    return "admitted" if admit else "refused"


class Tally:
    """Counts since local midnight; rolls over by itself. Thread-safe."""

    def __init__(self, now: Callable[[], float]):
        self._now = now
        self._lock = threading.Lock()
        self._day = local_midnight(now())
        self._counts: dict[str, int] = dict.fromkeys(Counts.__dataclass_fields__, 0)

    @property
    def day_start_ms(self) -> int:
        return int(self._day * 1000)

    def seed_row(self, row: ChainedVisitRow) -> None:
        """Count one of the visit log's rows read at start (a restart keeps the day's figures)."""
        if row["ts_ms"] >= self.day_start_ms:
            self._add(_row_kind(row))

    def _add(self, kind: str | None) -> None:
        if kind is None:
            return
        day = local_midnight(self._now())
        with self._lock:
            if day != self._day:
                self._day = day
                self._counts = dict.fromkeys(self._counts, 0)
            self._counts[kind] += 1

    def decision(self, d: Decision, decided_by: str) -> None:
        self._add(kind_of(d.admit, str(d.tone), d.outcome, decided_by))

    def acknowledged(self) -> None:
        self._add("acknowledged")

    def counts(self) -> Counts:
        self._add(None)
        with self._lock:
            if local_midnight(self._now()) != self._day:
                return Counts()
            return Counts(**self._counts)


def _row_kind(row: ChainedVisitRow) -> str | None:
    return kind_of(bool(row["admit"]), row["tone"], row.get("outcome"), row.get("decided_by"))
