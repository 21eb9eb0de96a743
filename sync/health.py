"""The device's health record that the agent sends to the hub with each round.

The kiosk or gate process writes `appliance-health.json` (camera, gate output, audio, last decision);
the agent adds what it knows itself: uploads pending, the visit log's size, storage alarm and damage, the
trust and status lists' versions and ages, the clock, its own uptime. A missing, oversized or
malformed appliance file is reported as such, never a reason to skip the round.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from keys.jsontypes import JsonObject
from scanner.service.appliancehealth import software_version
from scanner.storage.datadir import DataDir
from scanner.storage.syncstate import SyncStatus

MAX_APPLIANCE_HEALTH = 64 * 1024
APPLIANCE_FIELDS = ("software_version", "started_at", "written_at", "camera", "last_decision_ts", "gate_output",
                    "audio", "errors_since_start", "clock_trusted", "status_store_problem")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")


def read_appliance_health(data_dir: Path) -> JsonObject:
    """The kiosk/gate's own record (known fields only), or `{"state": why not}`."""
    path = DataDir(data_dir).appliance_health
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_APPLIANCE_HEALTH + 1)
    except FileNotFoundError:
        return {"state": "none"}
    except OSError as e:
        return {"state": "unreadable", "error": e.strerror or str(e)}
    if len(raw) > MAX_APPLIANCE_HEALTH:
        return {"state": "unreadable", "error": f"larger than {MAX_APPLIANCE_HEALTH} bytes"}
    try:
        # Infinity and NaN (`1e999`, `NaN`) are not JSON: sent on, they would make the round unsendable.
        doc = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return {"state": "unreadable", "error": "not JSON"}
    if not isinstance(doc, dict):
        return {"state": "unreadable", "error": "not a JSON object"}
    return {k: doc[k] for k in APPLIANCE_FIELDS if k in doc}


def health_record(data_dir: Path, state: SyncStatus, *, log_bytes: int | None, started_at: float,
                  clock_trusted: bool | None, now: float | None = None) -> JsonObject:
    now = time.time() if now is None else now
    storage = state.storage
    damage = storage.get("damage")
    appliance = read_appliance_health(data_dir)
    written = appliance.get("written_at")
    if clock_trusted is None and isinstance(appliance.get("clock_trusted"), bool):
        clock_trusted = appliance["clock_trusted"]
    if "software_version" not in appliance:
        # No kiosk or gate record (yet): the agent's own release is the device's.
        appliance["software_version"] = software_version()
    return {
        **appliance,
        # How long ago the kiosk/gate last wrote its record: a stopped appliance shows here.
        "appliance_age": round(now - written, 1) if isinstance(written, int | float) else None,
        "pending_uploads": state.pending,
        "visit_log_bytes": log_bytes,
        # The cap's or the disk's alarm (the damage notice, which also raises the log's alarm, goes apart).
        "storage_alarm": bool(storage.get("space_alarm")) if storage else None,
        # A damaged visit log salvaged and not yet acknowledged; a damaged status store set aside (by the
        # kiosk/gate, or by the agent itself).
        "visit_log_damage": damage or None,
        "status_store_problem": appliance.get("status_store_problem") or storage.get("status_store") or None,
        "trust_list": {k: state.trust_list.get(k) for k in ("version", "age", "error")},
        "rules_list": {k: state.rules_list.get(k) for k in ("version", "age", "error")},
        "status_lists": {issuer: {k: v.get(k) for k in ("version", "age", "error")}
                         for issuer, v in state.status_lists.items()},
        "clock_trusted": clock_trusted,
        "clock_offset": state.hub_time_offset,
        "agent_uptime": round(now - started_at, 1),
    }
