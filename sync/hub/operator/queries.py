"""What the fleet pages read from the hub database: traffic per site and hour, visit search with gaps.

Traffic comes from the hourly counts kept at ingest (`sync.hub.traffic`); the visit search counts and
finds gaps in SQL (a window function over one device's range), never walking rows in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sync.hub.fleetstate import sites_sql
from sync.hub.store import HubStore
from sync.hub.traffic import HOUR_MS

# Visit search shows at most this many rows; the count and the gaps cover the whole range.
SEARCH_LIMIT = 500


@dataclass
class HourCounts:
    hour_ms: int
    admitted: int = 0
    refused: int = 0
    manual: int = 0


def traffic(store: HubStore, since_ms: int, until_ms: int) -> dict[str, list[HourCounts]]:
    """Per site (as the device list names it, else the visits' checkpoint id) and hour: admitted, refused,
    manual checks. Every hour of the range is present for every site, so a quiet hour shows as zero.

    Summed by the database: the hourly counts are a row per device, checkpoint and hour, hundreds of
    thousands a day at province scale, and each device's site is read from its health record once.
    """
    first, last = since_ms // HOUR_MS, (until_ms - 1) // HOUR_MS
    rows = store.query(
        "SELECT COALESCE(f.site, t.checkpoint_id), t.hour, SUM(t.admitted), SUM(t.refused), SUM(t.manual) "
        f"FROM traffic_hourly t LEFT JOIN ({sites_sql(store.dialect)}) f ON f.device_id = t.device_id "
        "WHERE t.hour >= ? AND t.hour <= ? GROUP BY 1, 2", (first, last))
    out: dict[str, dict[int, HourCounts]] = {}
    for site, hour, admitted, refused, manual in rows:
        hours = out.setdefault(str(site), {h: HourCounts(h * HOUR_MS) for h in range(first, last + 1)})
        c = hours[int(hour)]
        c.admitted, c.refused, c.manual = int(admitted), int(refused), int(manual)
    return {site: list(hours.values()) for site, hours in sorted(out.items())}


@dataclass(frozen=True)
class VisitSearch:
    total: int
    rows: list[dict[str, Any]]
    gaps: list[tuple[int, int]]  # missing sequence ranges (first, last) between rows held in the range
    # Runs of rows the hub refused and keeps in `visit_refusals` (first, last, reason of the first): held, so
    # not missing (as `hub logs` counts them), but not among the visits either.
    refused: list[tuple[int, int, str]] = field(default_factory=list)


def search_visits(store: HubStore, device_id: str, since_ms: int, until_ms: int) -> VisitSearch:
    args = (device_id, since_ms, until_ms)
    where = "WHERE device_id = ? AND ts_ms >= ? AND ts_ms < ?"
    total = int(store.query(f"SELECT COUNT(*) FROM visits {where}", args)[0][0])
    # `recovered`: the row came from a log the device salvaged from its damaged file (`logs.recovered_ms`).
    rows = [{"seq": r[0], "visit_id": r[1], "ts_ms": r[2], "checkpoint_id": r[3], "verdict": r[4],
             "admit": bool(r[5]), "tone": r[6], "chain_ok": bool(r[7]), "extra": json.loads(r[8]),
             "recovered": r[9] is not None}
            for r in store.query(
                "SELECT seq, visit_id, ts_ms, checkpoint_id, verdict, admit, tone, chain_ok, extra, (SELECT "
                "l.recovered_ms FROM logs l WHERE l.device_id = visits.device_id AND l.log_id = visits.log_id) "
                f"FROM visits {where} ORDER BY log_id, seq LIMIT ?", (*args, SEARCH_LIMIT))]
    gaps = [(str(log), int(a), int(b)) for log, a, b in store.query(
        # Sequence numbers count per log: a device whose data was wiped starts a new log at 1.
        "SELECT log_id, prev + 1, seq - 1 FROM (SELECT log_id, seq, LAG(seq) OVER (PARTITION BY log_id ORDER BY "
        f"seq) AS prev FROM visits {where}) AS s WHERE seq > prev + 1 ORDER BY log_id, seq LIMIT 1000", args)]
    # Refused rows timed in the range, and those within the range's sequence span whatever time they carry
    # (a refused time is often the reason: a clock far off).
    refusals = store.query(
        "SELECT r.log_id, r.seq, r.reason FROM visit_refusals r JOIN (SELECT log_id, MIN(seq) AS lo, MAX(seq) AS hi "
        f"FROM visits {where} GROUP BY log_id) v ON r.log_id = v.log_id AND r.seq > v.lo AND r.seq < v.hi "
        "WHERE r.device_id = ? UNION SELECT log_id, seq, reason FROM visit_refusals "
        f"{where} ORDER BY 1, 2 LIMIT {REFUSED_LIMIT}", (*args, device_id, *args))
    held: dict[str, set[int]] = {}
    for log, seq, _ in refusals:
        held.setdefault(str(log), set()).add(int(seq))
    return VisitSearch(total, rows, [g for log, a, b in gaps for g in _without(a, b, held.get(log, set()))],
                       _runs(refusals))


REFUSED_LIMIT = 5000


def _without(first: int, last: int, held: set[int]) -> list[tuple[int, int]]:
    """The range first..last less the sequence numbers in `held`, as ranges."""
    inside = sorted(seq for seq in held if first <= seq <= last)
    out, at = [], first
    for seq in inside:
        if seq > at:
            out.append((at, seq - 1))
        at = seq + 1
    if at <= last:
        out.append((at, last))
    return out


def _runs(refusals: list[Any]) -> list[tuple[int, int, str]]:
    """Consecutive refused rows of one log with one reason, as (first, last, reason)."""
    out: list[tuple[int, int, str]] = []
    prev_log = None
    for log, seq, reason in refusals:
        if out and log == prev_log and int(seq) == out[-1][1] + 1 and reason == out[-1][2]:
            out[-1] = (out[-1][0], int(seq), out[-1][2])
        else:
            out.append((int(seq), int(seq), str(reason)))
        prev_log = log
    return out


# Device ids the search form offers as suggestions: a province's every id would make each visits page
# hundreds of kilobytes (any id can be typed).
OFFERED_DEVICES = 1000


def device_ids(store: HubStore) -> tuple[list[str], int]:
    """The first `OFFERED_DEVICES` devices that reported health (by id), and how many reported."""
    total = int(store.query("SELECT COUNT(*) FROM device_health")[0][0])
    ids = [str(r[0]) for r in store.query(f"SELECT device_id FROM device_health ORDER BY device_id "
                                           f"LIMIT {OFFERED_DEVICES}")]
    return ids, total
