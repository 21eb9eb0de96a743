"""What the fleet pages and /metrics cost as the fleet and the visit table grow.

Fills a hub database (SQLite file, or `--db postgresql://…`) with `--devices` health records and
`--visits` visits spread over the last 24 hours, then times (median of 5) what each page reads:
the device list (states and counts in SQL, the first 500 shown judged in words; beside it the old way,
every latest record judged in Python), /metrics (the same plus the counters), the traffic
chart (hourly counts of 24 hours), a device's visit search with gaps, and one device's page. The
floor is reading the same health rows without judging them, measured in the same run; the figures
are printed as milliseconds and as ratios to it. `--one-core` repeats the run under `taskset -c 0`.

    .venv/bin/python -m bench.hub_fleet [--devices 2000] [--visits 200000] [--db URL] [--one-core]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.hub_queries import timed
from sync.hub import metrics
from sync.hub.devicehealth import DEFAULT_THRESHOLDS, fleet, judge, latest, record_health
from sync.hub.fleetstate import device_list, state_counts
from sync.hub.operator.queries import HOUR_MS, search_visits, traffic
from sync.hub.store import HubStore
from tests.helpers.hubrows import chain_rows, new_log_id

HEALTH = {"software_version": "1.4.0", "started_at": 1.0, "camera": {"state": "ok", "fps": 14.5},
          "gate_output": {"state": "closed"}, "audio": {"state": "ok"}, "errors_since_start": 0,
          "pending_uploads": 3, "visit_log_bytes": 4 << 20, "storage_alarm": False,
          "trust_list": {"version": 7, "age": 600.0}, "status_lists": {"CN-ZJ": {"version": 3, "age": 60.0}},
          "clock_trusted": True, "clock_offset": 0.1, "agent_uptime": 5.0}


def fill(store: HubStore, devices: int, visits: int) -> None:
    now = time.time()
    for i in range(devices):
        record_health(store, f"gate-{i:05d}", {**HEALTH, "site": f"site-{i % 50}"}, now=now - (i % 7) * 60)
    per_device = max(visits // max(min(devices, 100), 1), 1)
    start_ms = int((now - 24 * 3600) * 1000)
    step = max(24 * 3600 * 1000 // per_device, 1)
    for d in range(min(devices, 100)):
        log_id = new_log_id()
        rows = chain_rows(f"gate-{d:05d}", per_device, ts_ms=start_ms, checkpoint_id=f"cp-{d}")
        for j, r in enumerate(rows):
            r["ts_ms"] = start_ms + j * step
        for k in range(0, len(rows), 5000):
            store.upload(f"gate-{d:05d}", rows[k:k + 5000], log_id=log_id)


def run(db: str, devices: int, visits: int) -> None:
    store = HubStore(db)
    t0 = time.perf_counter()
    fill(store, devices, visits)
    print(f"filled {devices} devices, {visits} visits in {time.perf_counter() - t0:.1f} s")
    now = time.time()
    now_ms = int(now * 1000)
    until = (now_ms // HOUR_MS + 1) * HOUR_MS
    floor = timed(lambda: store.query("SELECT device_id, received_ms, record FROM device_health"))
    rows = {
        "device list (states in SQL)": timed(lambda: (
            state_counts(store, now, DEFAULT_THRESHOLDS),
            [judge(h, now, DEFAULT_THRESHOLDS) for h, _ in device_list(store, now, DEFAULT_THRESHOLDS)])),
        "judging all in Python (before)": timed(lambda: [judge(h, now, DEFAULT_THRESHOLDS) for h in fleet(store)]),
        "/metrics": timed(lambda: metrics.render(store, DEFAULT_THRESHOLDS)),
        "traffic, 24 h": timed(lambda: traffic(store, until - 24 * HOUR_MS, until)),
        "visit search, 1 device, 24 h": timed(lambda: search_visits(store, "gate-00000", now_ms - 86_400_000,
                                                                     now_ms)),
        "device page (latest)": timed(lambda: latest(store, "gate-00000")),
    }
    print(f"floor: reading {devices} health rows: {floor:.1f} ms")
    for name, ms in rows.items():
        print(f"{name:32s} {ms:8.1f} ms   {ms / floor:6.1f}x floor")
    store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--visits", type=int, default=200_000)
    ap.add_argument("--db", help="database URL (default: a new SQLite file)")
    ap.add_argument("--one-core", action="store_true", help="also run pinned to one core (taskset -c 0)")
    ap.add_argument("--pinned", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as d:
        db = args.db or str(Path(d) / "hub.sqlite")
        print(("one core: " if args.pinned else "all cores: ") + db.split("@")[-1])
        run(db, args.devices, args.visits)
    if args.one_core and not args.pinned:
        one = [a for a in (argv or sys.argv[1:]) if a != "--one-core"]
        if args.db:
            print("(one-core run on the same database is skipped: it would add the rows again)")
            return 0
        subprocess.run(["taskset", "-c", "0", sys.executable, "-m", "bench.hub_fleet", *one, "--pinned"],
                       check=True, env={**os.environ})
    return 0


if __name__ == "__main__":
    sys.exit(main())
