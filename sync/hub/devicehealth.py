"""The hub's side of the device health record: checked, stored (latest per device, thinned history), judged.

Each sync round a device sends a health record (`sync/health.py` builds it). The hub keeps only the
fields it knows, each of the expected type, strings capped in length and without NUL characters: a
malformed field is dropped and named in `dropped`, never a reason to refuse the round. The hub adds
`errors_since_last` (the device counts errors since it started; the hub subtracts the count it held before).

`judge` turns a record into the fleet page's words: online/offline by when the device was last heard
from, and the reasons it needs attention (camera, storage, backlog, stale lists, clock, errors).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keys.jsontypes import Json, JsonObject
from sync.hub.db import Row
from sync.hub.store import HubStore

MAX_STRING = 200
MAX_ISSUERS = 64
# History: at most one record per device every HISTORY_EVERY seconds, kept for HISTORY_KEEP seconds.
HISTORY_EVERY = 300
HISTORY_KEEP = 24 * 3600

_LIST = {"version": int, "age": float, "error": str}
SPEC: dict[str, Any] = {
    "software_version": str, "started_at": float, "written_at": float, "appliance_age": float,
    "agent_uptime": float, "last_decision_ts": float, "checkpoint_id": str, "site": str,
    "camera": {"state": str, "fps": float, "source": str, "message": str},
    "gate_output": {"state": str}, "audio": {"state": str, "problem": str},
    "errors_since_start": int, "state": str, "error": str,
    "pending_uploads": int, "visit_log_bytes": int, "storage_alarm": bool, "visit_log_damage": str,
    "status_store_problem": str,
    "trust_list": _LIST, "rules_list": _LIST, "status_lists": ("map", _LIST),
    "clock_trusted": bool, "clock_offset": float,
}


def _clean(spec: object, value: Json, path: str, dropped: list[str]) -> Json:
    if isinstance(spec, tuple):
        if not isinstance(value, dict):
            dropped.append(path)
            return None
        out: JsonObject = {}
        for k, v in list(value.items())[:MAX_ISSUERS]:
            name = str(k)
            if "\x00" in name:
                dropped.append(f"{path}.{name!r}")
            else:
                out[name[:MAX_STRING]] = _clean(spec[1], v, f"{path}.{name}", dropped)
        return out
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            dropped.append(path)
            return None
        out = {k: _clean(s, value[k], f"{path}.{k}" if path else k, dropped)
               for k, s in spec.items() if k in value and value[k] is not None}
        return {k: v for k, v in out.items() if v is not None}
    if value is None:
        return None
    if spec is bool:
        ok = isinstance(value, bool)
    elif spec is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 63
    elif spec is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e15
    else:
        # PostgreSQL cannot store a NUL, and a device's words reach the judged columns as they are.
        ok = isinstance(value, str) and "\x00" not in value
        value = value[:MAX_STRING] if ok else value
    if not ok:
        dropped.append(path)
        return None
    return value


def clean_record(raw: Json) -> JsonObject:
    """The known, well-typed part of a device's health record (`dropped` names what was not)."""
    dropped: list[str] = []
    rec = _clean(SPEC, raw, "", dropped) if isinstance(raw, dict) else {}
    if not isinstance(raw, dict):
        dropped.append("(record is not an object)")
    if dropped:
        rec["dropped"] = dropped[:20]
    return rec


@dataclass(frozen=True)
class DeviceHealth:
    device_id: str
    received_ms: int  # 0: registered, never reported
    record: JsonObject
    site: str | None = None  # where the registry places the device (`hub devices place`)

    @property
    def site_name(self) -> str:
        """The registry's site, else the site and checkpoint the device reports."""
        return str(self.site or self.record.get("site") or self.record.get("checkpoint_id") or "")


def _row(r: Row) -> DeviceHealth:
    return DeviceHealth(str(r[0]), int(r[1]), json.loads(r[2]))


def latest(store: HubStore, device_id: str) -> DeviceHealth | None:
    rows = store.query("SELECT device_id, received_ms, record FROM device_health WHERE device_id = ?",
                       (device_id,))
    return _row(rows[0]) if rows else None


def fleet(store: HubStore) -> list[DeviceHealth]:
    """Every registered (not revoked) device with its latest record, by device id; a device that never
    reported has an empty record. Records of devices the registry does not know are listed too."""
    rows = store.query(
        "SELECT d.device_id, h.received_ms, h.record, d.site FROM devices d "
        "LEFT JOIN device_health h ON h.device_id = d.device_id WHERE d.state = 'enrolled' "
        "UNION ALL SELECT h.device_id, h.received_ms, h.record, NULL FROM device_health h "
        "WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.device_id = h.device_id) ORDER BY 1")
    return [DeviceHealth(str(r[0]), int(r[1] or 0), json.loads(r[2]) if r[2] else {}, r[3] or None) for r in rows]


def history(store: HubStore, device_id: str) -> list[DeviceHealth]:
    return [_row(r) for r in store.query(
        "SELECT device_id, received_ms, record FROM device_health_history WHERE device_id = ? "
        "ORDER BY received_ms DESC", (device_id,))]


# Kept beside each latest record so the fleet's states are judged in SQL (`sync/hub/fleetstate.py`):
# the problems that need no threshold (as `judge` words them), and the measures judged against the
# operator's thresholds (ages and the clock offset in whole milliseconds, rounded up).
JUDGED_COLUMNS = ("fixed_problems", "appliance_age_ms", "backlog", "trust_age_ms", "status_age_ms",
                  "clock_offset_ms")


def _ms(seconds: Json) -> int | None:
    return -int(-float(seconds) * 1000 // 1) if isinstance(seconds, int | float) else None


def judged_columns(rec: JsonObject) -> tuple[str, int | None, int | None, int | None, int | None, int | None]:
    """`JUDGED_COLUMNS` of a cleaned record."""
    never = Thresholds(appliance_age=float("inf"), backlog=2**62, trust_list_age=float("inf"),
                       status_list_age=float("inf"), clock_offset=float("inf"))
    fixed = judge(DeviceHealth("", 0, rec), 0.0, never).problems
    tl = rec.get("trust_list") or {}
    ages = [sl["age"] for sl in (rec.get("status_lists") or {}).values() if sl and sl.get("age") is not None]
    off = rec.get("clock_offset")
    pending = rec.get("pending_uploads")
    return ("\n".join(fixed), _ms(rec.get("appliance_age") or 0), pending if isinstance(pending, int) else None,
            _ms(tl.get("age")), _ms(max(ages)) if ages else None, _ms(abs(off)) if off is not None else None)


# The device's latest record and the time of its last history entry, in one statement.
PREVIOUS = ("SELECT (SELECT record FROM device_health WHERE device_id = ?), "
            "(SELECT MAX(received_ms) FROM device_health_history WHERE device_id = ?)")


# A record never replaces a newer one (records are written behind, by more than one process).
_UPSERT = (f"INSERT INTO device_health (device_id, received_ms, record, {', '.join(JUDGED_COLUMNS)}) "
           f"VALUES (?, ?, ?, {', '.join('?' * len(JUDGED_COLUMNS))}) ON CONFLICT (device_id) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in ("received_ms", "record", *JUDGED_COLUMNS))
           + " WHERE device_health.received_ms <= excluded.received_ms")


def health_writes(device_id: str, raw: Json, previous: Row, now_ms: int) -> tuple[DeviceHealth,
                                                                                  list[tuple[str, tuple[Any, ...]]]]:
    """The record to keep and the statements that keep it, given the `PREVIOUS` row read before."""
    rec = clean_record(raw)
    prev_record, last_hist = previous
    errors = rec.get("errors_since_start")
    if isinstance(errors, int):
        prev = json.loads(prev_record) if prev_record else {}
        same_run = prev.get("started_at") == rec.get("started_at") and isinstance(prev.get("errors_since_start"), int)
        rec["errors_since_last"] = max(0, errors - prev["errors_since_start"]) if same_run else errors
    body = json.dumps(rec, sort_keys=True, ensure_ascii=False)
    steps: list[tuple[str, tuple[Any, ...]]] = [(_UPSERT, (device_id, now_ms, body, *judged_columns(rec)))]
    if last_hist is None or now_ms - int(last_hist) >= HISTORY_EVERY * 1000:
        steps += [("INSERT INTO device_health_history (device_id, received_ms, record) VALUES (?, ?, ?) "
                   "ON CONFLICT DO NOTHING", (device_id, now_ms, body)),
                  ("DELETE FROM device_health_history WHERE device_id = ? AND received_ms < ?",
                   (device_id, now_ms - HISTORY_KEEP * 1000))]
    return DeviceHealth(device_id, now_ms, rec), steps


def record_health(store: HubStore, device_id: str, raw: Json, now: float | None = None) -> DeviceHealth:
    """Store a device's health record as its latest; add it to the history if the last entry is old enough."""
    now_ms = int((time.time() if now is None else now) * 1000)
    # Every round brings a fresh record: a crash losing the last ones costs nothing, so no disk wait.
    with store.db.transaction(durable=False) as tx:
        previous = tx.execute(PREVIOUS, (device_id, device_id))[0]
        health, steps = health_writes(device_id, raw, previous, now_ms)
        tx.execute_all(steps)
    return health


def record_many(store: HubStore, records: Mapping[str, tuple[int, Json]]) -> None:
    """Store many devices' records (device id -> (received ms, raw record)) in one transaction: the
    previous records read in one statement per 500 devices, each kind of write sent as one batch."""
    ids = list(records)
    writes: dict[str, list[tuple[Any, ...]]] = {}
    with store.db.transaction(durable=False) as tx:
        known: dict[str, Any] = {}
        history: dict[str, Any] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ", ".join("?" * len(chunk))
            got = tx.execute_all([
                (f"SELECT device_id, record FROM device_health WHERE device_id IN ({marks})", chunk),
                (f"SELECT device_id, MAX(received_ms) FROM device_health_history WHERE device_id IN ({marks}) "
                 "GROUP BY device_id", chunk)])
            known.update((str(d), r) for d, r in got[0])
            history.update((str(d), t) for d, t in got[1])
        for device_id, (received_ms, raw) in records.items():
            _, steps = health_writes(device_id, raw, (known.get(device_id), history.get(device_id)), received_ms)
            for sql, args in steps:
                writes.setdefault(sql, []).append(args)
        for sql, rows in writes.items():  # upserts, then history entries, then history trimming
            tx.executemany(sql, rows)


@dataclass(frozen=True)
class Thresholds:
    """When a device counts as offline or needing attention (seconds, counts)."""

    offline_after: float = 120.0
    appliance_age: float = 300.0
    backlog: int = 1000
    trust_list_age: float = 2 * 86400
    status_list_age: float = 86400
    clock_offset: float = 30.0


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Judgement:
    online: bool
    problems: tuple[str, ...]

    @property
    def state(self) -> str:
        """"offline", "attention" (online with problems) or "ok"."""
        return "offline" if not self.online else ("attention" if self.problems else "ok")


def _state_of(part: Json) -> str | None:
    return part.get("state") if isinstance(part, Mapping) else None


def judge(h: DeviceHealth, now: float, t: Thresholds = DEFAULT_THRESHOLDS) -> Judgement:
    r = h.record
    problems: list[str] = []
    online = now - h.received_ms / 1000 <= t.offline_after
    if r.get("state") in ("unreadable",):
        problems.append(f"appliance health unreadable: {r.get('error')}")
    if (r.get("appliance_age") or 0) > t.appliance_age:
        problems.append("kiosk/gate not reporting")
    cam = _state_of(r.get("camera"))
    if cam not in (None, "ok"):
        problems.append(f"camera {cam}")
    gate = _state_of(r.get("gate_output"))
    if gate in ("fault", "error"):
        problems.append(f"gate output {gate}")
    if _state_of(r.get("audio")) == "silent":
        problems.append("no sound output")
    if r.get("visit_log_damage"):
        problems.append(str(r["visit_log_damage"]))
    if r.get("storage_alarm"):
        problems.append("storage alarm")
    if r.get("status_store_problem"):
        problems.append("status store damaged: started empty")
    if (r.get("pending_uploads") or 0) > t.backlog:
        problems.append(f"backlog {r['pending_uploads']}")
    tl = r.get("trust_list") or {}
    if tl.get("error"):
        problems.append("trust list error")
    if tl.get("age") is not None and tl["age"] > t.trust_list_age:
        problems.append("trust list stale")
    if not tl.get("version"):
        problems.append("no trust list")
    for issuer, sl in (r.get("status_lists") or {}).items():
        if sl and (sl.get("error") or (sl.get("age") is not None and sl["age"] > t.status_list_age)):
            problems.append(f"status list {issuer} stale")
    if r.get("clock_trusted") is False:
        problems.append("clock not trusted")
    off = r.get("clock_offset")
    if off is not None and abs(off) > t.clock_offset:
        problems.append(f"clock off by {off:+.0f} s")
    if r.get("errors_since_last"):
        problems.append(f"{r['errors_since_last']} errors")
    return Judgement(online, tuple(problems))
