"""Visits appended to a device's log for sync tests: real rows, each with its outbox entry."""

from __future__ import annotations

import time

from scanner.storage.chain import new_visit_id
from scanner.storage.visitlog import VisitLog, VisitRecord


def fill(log: VisitLog, n: int, device_id: str = "dev-1") -> list[str]:
    """Append `n` admitted pharmacy visits (distinct code ids) to `log`; their visit ids, in order."""
    ids = []
    for i in range(n):
        now = time.time()
        rec = VisitRecord(visit_id=new_visit_id(now), ts_ms=int(now * 1000), device_id=device_id,
                          checkpoint_id="gate-1", profile="pharmacy", clock_trusted=True, verdict="ok",
                          admit=True, tone="pass", issuer="CN-ZJ", code_id=f"{i:032x}", subject="cd" * 16,
                          status="green", latency_ms=3, extra={"drug_categories": ["antipyretic"]})
        ids.append(log.append(rec).visit_id)
    return ids
