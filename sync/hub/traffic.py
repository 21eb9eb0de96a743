"""Hourly traffic counts per device and checkpoint, kept as visits arrive, for the fleet page's chart.

At province scale a day holds ~100 million visits: counting them per site and hour on every page view
would scan a whole day. Instead the ingest transaction that stores a batch adds its rows to
`traffic_hourly` (admitted, refused, manual checks per device, checkpoint and hour), so the counts
change exactly when the visits do, once per stored visit, and a page reads a few thousand rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from keys.jsontypes import Json

HOUR_MS = 3600 * 1000

TABLE = """CREATE TABLE traffic_hourly (
    device_id TEXT NOT NULL, checkpoint_id TEXT NOT NULL, hour BIGINT NOT NULL,
    admitted BIGINT NOT NULL, refused BIGINT NOT NULL, manual BIGINT NOT NULL,
    PRIMARY KEY (device_id, checkpoint_id, hour));
CREATE INDEX traffic_hourly_hour ON traffic_hourly (hour)"""
# Counts for visits stored before the table existed.
BACKFILL = f"""INSERT INTO traffic_hourly (device_id, checkpoint_id, hour, admitted, refused, manual)
    SELECT device_id, checkpoint_id, ts_ms / {HOUR_MS},
           SUM(CASE WHEN admit = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN admit = 0 THEN 1 ELSE 0 END),
           SUM(CASE WHEN tone = 'check' THEN 1 ELSE 0 END)
    FROM visits WHERE decided_by IS NULL OR decided_by <> 'clerk'
    GROUP BY device_id, checkpoint_id, ts_ms / {HOUR_MS}"""
_ADD = ("INSERT INTO traffic_hourly (device_id, checkpoint_id, hour, admitted, refused, manual) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, checkpoint_id, hour) DO UPDATE SET "
        "admitted = traffic_hourly.admitted + excluded.admitted, "
        "refused = traffic_hourly.refused + excluded.refused, manual = traffic_hourly.manual + excluded.manual")


class Writer(Protocol):
    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...


def tally(tx: Writer, device_id: str, stored: Iterable[Mapping[str, Json]]) -> None:
    """Add newly stored visits to the hourly counts, in the transaction that stores them."""
    counts: dict[tuple[str, int], list[int]] = {}
    for r in stored:
        if r.get("decided_by") == "clerk":
            continue  # a guard's decision on a visit already counted, not a new visit
        c = counts.setdefault((str(r["checkpoint_id"]), int(r["ts_ms"]) // HOUR_MS), [0, 0, 0])
        c[0 if r["admit"] else 1] += 1
        c[2] += r["tone"] == "check"
    if counts:
        tx.executemany(_ADD, [[device_id, cp, hour, *c] for (cp, hour), c in sorted(counts.items())])
