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
from dataclasses import dataclass
from functools import partial

from sync.hub.db import SQLITE
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


def _listed(enrolled: str, unknown: str) -> str:
    """The devices the fleet lists: every registered (not revoked) device, `enrolled` selected over `d` and
    its latest record `h` (NULL when none), then the records of devices the registry does not know,
    `unknown` selected over `h` alone."""
    return (f"SELECT {enrolled} FROM devices d "
            "LEFT JOIN device_health h ON h.device_id = d.device_id WHERE d.state = 'enrolled' "
            f"UNION ALL SELECT {unknown} FROM device_health h "
            "WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.device_id = h.device_id)")


def _fleet(now: float, t: Thresholds) -> tuple[str, list[object]]:
    """Every device the fleet lists with its latest record and state."""
    state, args = state_sql(now, t)
    return (_listed(f"d.device_id, h.received_ms, h.record, d.site, {state} AS state",
                    f"h.device_id, h.received_ms, h.record, NULL, {state}"), [*args, *args])


def record_field(dialect: str, name: str) -> str:
    """SQL for a top-level field of `record` (a health record's JSON text) as text, NULL when absent."""
    return f"json_extract(record, '$.{name}')" if dialect == SQLITE else f"(record::jsonb ->> '{name}')"


def sites_sql(dialect: str) -> str:
    """(device_id, site) of every device `_fleet` lists, the site as `DeviceHealth.site_name` words it:
    the registry's, else the one the device reports, else the checkpoint it reports (NULL: none)."""
    def named(registry: str) -> str:
        return (f"COALESCE(NULLIF({registry}, ''), NULLIF({record_field(dialect, 'site')}, ''), "
                f"NULLIF({record_field(dialect, 'checkpoint_id')}, ''))")
    return _listed(f"d.device_id, {named('d.site')} AS site", f"h.device_id, {named('NULL')}")


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
    return device_page(store, now, t, attention=attention, per_page=limit).rows


@dataclass(frozen=True)
class DevicePage:
    """One page of the fleet's device list: `rows` (device, state), `total` devices that match."""

    rows: list[tuple[DeviceHealth, str]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally (escape character \\)."""
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def device_page(store: HubStore, now: float, t: Thresholds, *, attention: bool = False, state: str | None = None,
                match: str = "", page: int = 1, per_page: int = 500) -> DevicePage:
    """Page `page` (from 1) of the device list in its order (offline first, then needing attention, then
    by device id). `attention`: only devices not "ok"; `state`: only devices in that one of STATES; `match`:
    text the device id or the site name contains (any case). The total comes from the same query."""
    sql, args = _fleet(now, t)
    conds: list[str] = []
    if attention:
        conds.append("state <> 'ok'")
    if state is not None:
        if state not in STATES:
            raise ValueError(f"unknown device state {state!r}")
        conds.append("state = ?")
        args.append(state)
    if match:
        # The name the page shows: the registry's site, else the site and checkpoint the device reports.
        field = partial(record_field, store.dialect)
        named = f"COALESCE(site, COALESCE({field('site')}, '') || ' ' || COALESCE({field('checkpoint_id')}, ''))"
        conds.append(f"(LOWER(device_id) LIKE ? ESCAPE '\\' OR LOWER({named}) LIKE ? ESCAPE '\\')")
        args += [_like(match), _like(match)]
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    rank = "CASE state WHEN 'offline' THEN 0 WHEN 'attention' THEN 1 ELSE 2 END"
    per_page = max(1, int(per_page))
    page = max(1, int(page))
    rows = store.query(f"SELECT device_id, received_ms, record, site, state, COUNT(*) OVER () FROM ({sql}) f"
                       f"{where} ORDER BY {rank}, device_id LIMIT {per_page} OFFSET {(page - 1) * per_page}", args)
    total = int(rows[0][5]) if rows else 0
    if not rows and page > 1:
        # Past the end (the fleet shrank, or a hand-typed page): the count still says how many match.
        total = int(store.query(f"SELECT COUNT(*) FROM ({sql}) f{where}", args)[0][0])
    listed = [(DeviceHealth(str(r[0]), int(r[1] or 0), json.loads(r[2]) if r[2] else {}, r[3] or None), str(r[4]))
              for r in rows]
    return DevicePage(listed, total, page, per_page)
