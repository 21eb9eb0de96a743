"""One visit as the device logs it: built from the checker's `Decision`, read back from SQLite.

The fields follow `scanner.storage.chain.VISIT_FIELDS`, the one declaration of the visit row shared by
the device's log and the hub.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from keys.jsontypes import Json, JsonObject
from scanner.storage.chain import ROW_FIELDS, ChainedVisitRow, new_visit_id, validate_extra

if TYPE_CHECKING:
    from scanner.policy import Decision


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class VisitRecord:
    """One visit as logged; `from_decision` builds it from the checker's `Decision`."""

    visit_id: str
    ts_ms: int
    device_id: str
    checkpoint_id: str
    profile: str
    clock_trusted: bool
    verdict: str
    admit: bool
    tone: str
    format: str | None = None
    issuer: str | None = None
    code_id: str | None = None
    subject: str | None = None
    code_type: str | None = None
    status: str | None = None
    guardian: bool = False
    trust_list_version: int | None = None
    status_list_version: int | None = None
    latency_ms: int = 0
    extra: JsonObject = field(default_factory=dict)
    decided_by: str | None = "device"
    gate: str | None = None
    ref_visit: str | None = None
    outcome: str | None = None

    @classmethod
    def from_decision(cls, decision: Decision, *, device_id: str, checkpoint_id: str, clock_trusted: bool,
                      latency_ms: float, extra: Mapping[str, Json] | None = None,
                      at: float | None = None, decided_by: str = "device", gate: str | None = None,
                      ref_visit: str | None = None) -> VisitRecord:
        """Build the row for a `scanner.policy.Decision`; `at` is the decision time (Unix seconds)."""
        result = decision.result
        now = time.time() if at is None else at
        return cls(
            visit_id=new_visit_id(now),
            ts_ms=round(now * 1000),
            device_id=device_id,
            checkpoint_id=checkpoint_id,
            profile=decision.profile,
            clock_trusted=bool(clock_trusted),
            verdict=str(result.verdict),
            admit=bool(decision.admit),
            tone=str(decision.tone),
            format=result.format,
            issuer=result.issuer,
            code_id=result.code_id.hex() if result.code_id else None,
            subject=result.subject.hex() if result.subject else None,
            code_type=_text(result.code_type),
            status=_text(result.status),
            guardian=result.guardian is not None,
            trust_list_version=result.trust_list_version,
            status_list_version=result.status_list_version,
            latency_ms=round(latency_ms),
            extra=validate_extra(extra),
            decided_by=decided_by,
            gate=gate,
            ref_visit=ref_visit,
            outcome=decision.outcome,
        )


def row_from_sql(r: sqlite3.Row) -> ChainedVisitRow:
    """A stored visit row as the chain and the hub see it (`extra` parsed, flags as booleans)."""
    d = {name: r[name] for name in ROW_FIELDS}
    d["extra"] = json.loads(d["extra"])
    for name in ("clock_trusted", "admit", "guardian"):
        d[name] = bool(d[name])
    # The columns are ROW_FIELDS, written only by `VisitLog.append` from a validated record.
    return cast("ChainedVisitRow", d)
