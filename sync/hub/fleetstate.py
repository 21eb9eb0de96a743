"""The fleet's device states judged in SQL: counts, the "needs attention" filter and the device list's order.

Judging every latest health record in Python on every page view and every /metrics scrape costs time
in proportion to the fleet (a quarter of a second at 2,000 devices). Each record is stored with its
judged columns (`sync.hub.devicehealth.JUDGED_COLUMNS`: the problems that need no threshold, and the
measures the operator's thresholds apply to), so `state_sql` judges a device with a few comparisons
the database makes; `judge` words the problems of the devices a page shows. The two agree (the tests
hold them to it): offline when last heard from longer ago than `offline_after` (or never), else
"attention" when a fixed problem or a measure beyond its threshold, else "ok".
"""

from __future__ import annotations

import json

from sync.hub.devicehealth import DeviceHealth, Thresholds
from sync.hub.store import HubStore

STATES = ("offline", "attention", "ok")  # the device list's order


def state_sql(now: float, t: Thresholds) -> tuple[str, list[object]]:
    """A SQL expression over `h` (device_health, possibly NULL from an outer join) naming its state."""
    sql = ("CASE WHEN h.received_ms IS NULL OR h.received_ms < ? THEN 'offline' "
           "WHEN h.fixed_problems <> '' OR h.appliance_age_ms > ? OR h.backlog > ? OR h.trust_age_ms > ? "
           "OR h.status_age_ms > ? OR h.clock_offset_ms > ? THEN 'attention' ELSE 'ok' END")
    return sql, [(now - t.offline_after) * 1000, t.appliance_age * 1000, t.backlog, t.trust_list_age * 1000,
                 t.status_list_age * 1000, t.clock_offset * 1000]


def _fleet(now: float, t: Thresholds) -> tuple[str, list[object]]:
    """Every registered (not revoked) device with its latest record and state, and records of devices
    the registry does not know."""
    state, args = state_sql(now, t)
    return (f"SELECT d.device_id, h.received_ms, h.record, d.site, {state} AS state FROM devices d "
            "LEFT JOIN device_health h ON h.device_id = d.device_id WHERE d.state = 'enrolled' "
            f"UNION ALL SELECT h.device_id, h.received_ms, h.record, NULL, {state} FROM device_health h "
            "WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.device_id = h.device_id)", [*args, *args])


def state_counts(store: HubStore, now: float, t: Thresholds) -> dict[str, int]:
    sql, args = _fleet(now, t)
    counts = dict.fromkeys(STATES, 0)
    for state, n in store.query(f"SELECT state, COUNT(*) FROM ({sql}) f GROUP BY state", args):
        counts[str(state)] = int(n)
    return counts


def device_list(store: HubStore, now: float, t: Thresholds, *, attention: bool = False,
                limit: int = 500) -> list[tuple[DeviceHealth, str]]:
    """Devices with their states, offline first, then needing attention, then by device id; `attention`:
    only those not "ok"; at most `limit`."""
    sql, args = _fleet(now, t)
    rank = "CASE state WHEN 'offline' THEN 0 WHEN 'attention' THEN 1 ELSE 2 END"
    where = " WHERE state <> 'ok'" if attention else ""
    rows = store.query(f"SELECT device_id, received_ms, record, site, state FROM ({sql}) f{where} "
                       f"ORDER BY {rank}, device_id LIMIT {int(limit)}", args)
    return [(DeviceHealth(str(r[0]), int(r[1] or 0), json.loads(r[2]) if r[2] else {}, r[3] or None), str(r[4]))
            for r in rows]
