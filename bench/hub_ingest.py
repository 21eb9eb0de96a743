"""Benchmark: the hub at scale on SQLite and PostgreSQL. Goals (2-core machine): PostgreSQL ≥ 20,000 visits/s,
p99 upload ≤ 250 ms for 500-visit batches, a per-device query ≤ 50 ms at 10M rows, ≥ 30,000 devices per hub
core polling every 30 s.

    .venv/bin/python -m bench.hub_ingest [--batches 20] [--big 10000000] [--backends sqlite,postgresql]
        [--only ingest,queries,rounds] [--round-seconds 8]

Runs on all cores, then again pinned to one (`bench/cores.py`). For each back end (PostgreSQL from a
throwaway cluster with fsync and synchronous_commit on):

1. ingestion: 20 simulated devices, each a thread with its own enrolled certificate and keep-alive TLS
   connection, upload `--batches` gzip batches of 500 chained visits with signed checkpoints to a real hub
   (`--workers 2` on PostgreSQL, 1 on SQLite); every upload is a distinct batch (its own rows, hashes and
   signature, gzipped before the clock starts) over mutual TLS. Printed: visits/s and p50/p99 upload
   latency back to back (saturation). The floor is the same rows written by the store directly (no HTTP,
   no parsing): the ratio says what the API costs. The simulated devices share the machine's cores with
   the hub, so the bench also prints the CPU seconds the hub processes (and the PostgreSQL server) used
   per 1,000 visits, read from /proc (`bench/cpu.py`), the visits/s those costs allow on the cores the hub
   and database have, and the devices' own CPU;
   latency at the goal's offered load: the devices send 20,000 visits/s in all (open loop: each device
   one batch every 20 × 500 ÷ 20,000 = 0.5 s, staggered), an upload's latency counted from when it was
   due (one waiting behind the device's previous late upload counts late, not left out). Why back-to-back
   latency follows from throughput (Little's law: in flight = arrival rate × time in the system): 20
   devices each with a 500-visit batch in flight hold 10,000 visits, so at R visits/s an upload takes
   10,000 ÷ R s; 250 ms back to back needs R ≥ 40,000, twice the ingestion goal. So the latency goal is
   read at the goal's load, where uploads queue only if the hub falls behind;
2. DB size per million visits (database growth over the ingest);
3. `hub visits` queries at 1M and `--big` rows (rows made in SQL: generate_series on PostgreSQL, a
   recursive CTE on SQLite): one device's time range (page of 1,000 + count), its last page by keyset,
   and the count of the whole table;
4. `POST /v1/round` per hub core: a hub with one worker pinned to core 0, clients on the other core(s);
   rounds/s, and the hub's CPU time per round: 30 s ÷ that = devices one hub core serves at a 30 s
   interval (the goal's figure, whatever the clients cost).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.cores import header, then_one_core
from bench.cpu import ProcessTree
from bench.hub_queries import fill, queries
from keys.deviceca import enroll
from keys.keyfile import load_private_key
from scanner.storage.chain import checkpoint_message, sign_checkpoint
from sync.hub.store import HubStore
from tests.helpers.faultproxy import HubProcess, Pki, make_pki
from tests.helpers.hubrows import chain_rows, new_log_id
from tests.helpers.pgcluster import PgCluster

DEVICES = 20
BATCH = 500
GOAL_RATE = 20_000  # visits/s: the ingestion goal, and the offered load of the latency run
GOAL_P99_MS = 250


def session(pki: Pki, cert: Path, key: Path) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = str(pki.ca)
    s.cert = (str(cert), str(key))
    return s


def bodies(device: str, key: Any, batches: int) -> list[bytes]:
    log_id = new_log_id()
    out, prev, seq = [], "00" * 32, 1
    for _ in range(batches):
        rows = chain_rows(device, BATCH, start_seq=seq, prev=prev, ts_ms=int(time.time() * 1000) - 3_600_000)
        last = rows[-1]
        cp = {"seq": last["seq"], "chain": last["chain"],
              "signature": sign_checkpoint(key, checkpoint_message(device, log_id, last["seq"], last["chain"]))}
        out.append(gzip.compress(json.dumps({"log_id": log_id, "visits": rows, "checkpoint": cp}).encode(), 3))
        prev, seq = last["chain"], seq + BATCH
    return out


@dataclass
class Ingest:
    seconds: float
    latencies: list[float]
    visits: int
    hub_cpu: float  # CPU seconds of the hub processes over the run
    db_cpu: float  # … of the PostgreSQL server (0 on SQLite: the hub process does the database work)
    client_cpu: float  # … of the simulated devices (this process's threads; bodies were made before)

    def p50_p99(self) -> tuple[float, float]:
        """The median and 99th percentile upload latency in milliseconds."""
        lat = sorted(self.latencies)
        return lat[len(lat) // 2] * 1000, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000


def ingest(hub: HubProcess, pki: Pki, creds: dict[str, tuple[Path, Path]], batches: int,
           db_pid: int | None = None, every: float | None = None) -> Ingest:
    """Each device uploads its batches back to back, or (`every` seconds) one batch per period, the
    devices' periods staggered: an open-loop offered load, each upload's latency counted from when it
    was due (a late previous upload of the device delays it, and that delay counts)."""
    url = hub.url
    prepared = {d: bodies(d, load_private_key(str(k)), batches) for d, (_, k) in creds.items()}
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    go = threading.Event()

    def device(d: str) -> None:
        s = session(pki, *creds[d])
        s.get(f"{url}/v1/health", timeout=60)  # the TLS handshake is not part of the upload
        go.wait()
        start = time.perf_counter() + (every or 0) * list(creds).index(d) / len(creds)
        for i, body in enumerate(prepared[d]):
            t = time.perf_counter()
            if every is not None:
                due = start + i * every
                time.sleep(max(0.0, due - t))
                t = due
            r = s.post(f"{url}/v1/visits", data=body, timeout=120,
                       headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
            took = time.perf_counter() - t
            with lock:
                if r.status_code != 200 or r.json()["stored"] != BATCH:
                    errors.append(f"{d}: {r.status_code} {r.text[:300]}")
                    return
                latencies.append(took)
        s.close()

    threads = [threading.Thread(target=device, args=(d,)) for d in creds]
    for t in threads:
        t.start()
    time.sleep(1.0)
    hub_cpu, db_cpu = ProcessTree(hub.proc.pid), ProcessTree(db_pid) if db_pid else None
    hub_cpu.start()
    if db_cpu:
        db_cpu.start()
    c0 = os.times()
    t0 = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    c1 = os.times()
    if errors:
        raise RuntimeError("uploads failed: " + "; ".join(errors[:3]))
    return Ingest(took, latencies, len(creds) * batches * BATCH, hub_cpu.seconds(),
                  db_cpu.seconds() if db_cpu else 0.0, c1.user + c1.system - c0.user - c0.system)


def floor(url: str, rows_total: int) -> float:
    """Visits/s of the store itself: the same batches written straight to the database."""
    store = HubStore(url)
    n = 0
    t0 = time.perf_counter()
    while n < rows_total:
        d = f"floor-{n // 10_000}"
        store.upload(d, chain_rows(d, BATCH, start_seq=n % 10_000 + 1, ts_ms=int(time.time() * 1000) - 3_600_000),
                     log_id="f" * 32)
        n += BATCH
    took = time.perf_counter() - t0
    store.close()
    return n / took


def rounds(hub: HubProcess, pki: Pki, creds: dict[str, tuple[Path, Path]], seconds: float = 8.0,
           db_pid: int | None = None) -> tuple[float, float, float]:
    """Rounds per second the hub answers (keep-alive sessions, one per device thread), and the hub's and
    the database server's CPU seconds per round. Each device's TLS handshake and first round (the hub
    process's first requests warm it up) come before the measurement: the figure is a serving hub's."""
    url = hub.url
    count = [0]
    lock = threading.Lock()
    threads_n = min(8, len(creds))
    warmed = threading.Barrier(threads_n + 1)
    go = threading.Event()
    stop = [0.0]
    body = json.dumps({"have": {"trust_list": None, "profiles": None, "rules": None, "status": {}},
                       "health": {"pending_uploads": 0, "agent_uptime": 10.0}})

    def device(d: str) -> None:
        s = session(pki, *creds[d])
        for _ in range(3):
            s.post(f"{url}/v1/round", data=body, headers={"Content-Type": "application/json"}, timeout=60)
        warmed.wait()
        go.wait()
        n = 0
        while time.monotonic() < stop[0]:
            r = s.post(f"{url}/v1/round", data=body, headers={"Content-Type": "application/json"}, timeout=60)
            assert r.status_code == 200, r.text[:200]
            n += 1
        with lock:
            count[0] += n
        s.close()

    threads = [threading.Thread(target=device, args=(d,)) for d in list(creds)[:threads_n]]
    for t in threads:
        t.start()
    warmed.wait()
    time.sleep(0.5)  # the health records of the warm-up rounds are written before the measurement
    hub_cpu, db_cpu = ProcessTree(hub.proc.pid), ProcessTree(db_pid) if db_pid else None
    hub_cpu.start()
    if db_cpu:
        db_cpu.start()
    t0 = time.perf_counter()
    stop[0] = time.monotonic() + seconds
    go.set()
    for t in threads:
        t.join()
    n = max(count[0], 1)
    return (count[0] / (time.perf_counter() - t0), hub_cpu.seconds() / n,
            (db_cpu.seconds() / n) if db_cpu else 0.0)


def run_backend(name: str, url: str, pki: Pki, creds: dict[str, tuple[Path, Path]], args: argparse.Namespace,
                floor_url: str, db_pid: int | None = None) -> None:
    phases = set(args.only.split(","))
    store = HubStore(url)
    workers = "2" if name == "postgresql" else "1"
    cores = os.sched_getaffinity(0)
    ingested = 0
    if "ingest" in phases:
        ingested = run_ingest(name, url, store, pki, creds, args, floor_url, workers, db_pid)
    for total in (args.first, args.big) if "queries" in phases else ():
        if total <= ingested:  # the query runs need rows of their own beyond the ingested ones
            continue
        t = time.perf_counter()
        fill(store, total, ingested)
        print(f"[{name}] {store.count():,} rows (filled in {time.perf_counter() - t:.0f} s): {queries(store)}",
              flush=True)
    store.close()
    if "rounds" not in phases:
        return
    hub_core = min(cores)
    pin = ["taskset", "-c", str(hub_core)] if len(cores) > 1 else []
    with HubProcess(url, pki, extra=("--workers", "1"), prefix=tuple(pin)) as hub:
        if len(cores) > 1:
            os.sched_setaffinity(0, cores - {hub_core})
        per_s, hub_round, db_round = rounds(hub, pki, creds, seconds=args.round_seconds, db_pid=db_pid)
        os.sched_setaffinity(0, cores)
    devices = per_s * 30
    per_core = 30 / hub_round
    print(f"[{name}] /v1/round: {per_s:,.0f} rounds/s on one hub core = {devices:,.0f} devices at a 30 s interval"
          + ("" if len(cores) > 1 else " [hub, database and clients share the one core]")
          + f"; hub CPU {hub_round * 1000:.2f} ms per round"
          + (f" (+ PostgreSQL server {db_round * 1000:.2f} ms)" if db_pid else "")
          + f" = {per_core:,.0f} devices per hub core at 30 s (goal ≥30,000: "
          f"{'met' if per_core >= 30_000 else 'NOT met'})", flush=True)


def run_ingest(name: str, url: str, store: HubStore, pki: Pki, creds: dict[str, tuple[Path, Path]],
               args: argparse.Namespace, floor_url: str, workers: str, db_pid: int | None) -> int:
    """The ingestion figures (back to back, then at a steady half rate) and the size; the visits stored."""
    size0 = store.size_bytes()
    hub = HubProcess(url, pki, extra=("--workers", workers))
    try:
        run = ingest(hub, pki, creds, args.batches, db_pid)
    except RuntimeError as e:
        print(f"[{name}] {e}\nhub's log: {hub.stop()[-3000:]}", flush=True)
        raise
    hub.stop()
    n = run.visits
    p50, p99 = run.p50_p99()
    rate = n / run.seconds
    base = floor(floor_url, min(n, 100_000))
    size = (store.size_bytes() - size0) / n * 1e6 / 2**20
    cores = os.sched_getaffinity(0)
    hub_ms, db_ms = run.hub_cpu / n * 1000 * 1000, run.db_cpu / n * 1000 * 1000
    # What the server side's CPU cost allows on the cores of this run, if nothing else used them: hub and
    # database share the cores, and each hub process uses at most one (SQLite's single hub process, one).
    server_rate = min(len(cores) / ((run.hub_cpu + run.db_cpu) / n), min(len(cores), int(workers)) / (run.hub_cpu / n))
    print(f"[{name}] ingest: {n} visits from {DEVICES} devices in {run.seconds:.1f} s = {rate:,.0f} visits/s "
          f"(goal ≥{GOAL_RATE:,}: {'met' if rate >= GOAL_RATE else 'NOT met'}; store alone {base:,.0f} visits/s, ratio "
          f"{rate / base:.2f}); upload latency back to back (saturation) p50 {p50:.0f} ms, p99 {p99:.0f} ms for "
          f"{BATCH}-visit batches (goal p99 ≤{GOAL_P99_MS} ms: {'met' if p99 <= GOAL_P99_MS else 'NOT met'}; by "
          f"Little's law {DEVICES * BATCH / rate * 1000:.0f} ms at this rate)", flush=True)
    client_ms = run.client_cpu / n * 1000 * 1000
    print(f"[{name}] ingest CPU per 1,000 visits: hub {hub_ms:.0f} ms"
          + (f", PostgreSQL server {db_ms:.0f} ms" if db_pid else "")
          + f" = {server_rate:,.0f} visits/s on {len(cores)} core(s) with no client load "
          f"(goal ≥{GOAL_RATE:,}: {'met' if server_rate >= GOAL_RATE else 'NOT met'}); hub alone "
          f"{1000 / hub_ms * 1000:,.0f} visits/s per core; the simulated devices took {client_ms:.0f} ms per 1,000 "
          f"visits of the same cores "
          f"(load average {os.getloadavg()[0]:.2f}: other jobs' share too)", flush=True)
    # Back to back, the uploads queue behind each other (Little's law, see the docstring): the goal's
    # latency is measured at the goal's offered load, open loop.
    hub = HubProcess(url, pki, extra=("--workers", workers))
    steady = ingest(hub, pki, creds, max(3, args.batches // 2), db_pid, every=DEVICES * BATCH / GOAL_RATE)
    hub.stop()
    s50, s99 = steady.p50_p99()
    served = steady.visits / steady.seconds
    print(f"[{name}] upload latency at an offered {GOAL_RATE:,} visits/s (the ingestion goal; open loop, from each "
          f"upload's due time; {served:,.0f} visits/s served): p50 {s50:.0f} ms, p99 {s99:.0f} ms for {BATCH}-visit "
          f"batches (goal p99 ≤{GOAL_P99_MS} ms: {'met' if s99 <= GOAL_P99_MS else 'NOT met'}); hub CPU "
          f"{steady.hub_cpu / steady.visits * 1e6:.0f} ms per 1,000 visits"
          + (f" (+ PostgreSQL server {steady.db_cpu / steady.visits * 1e6:.0f} ms)" if db_pid else ""), flush=True)
    print(f"[{name}] size: {size:,.0f} MiB per million visits (database growth over the ingest)", flush=True)
    return n + steady.visits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=20, help="batches of 500 per device (default 20)")
    ap.add_argument("--first", type=int, default=1_000_000, help="rows for the first query run (default 1M)")
    ap.add_argument("--big", type=int, default=10_000_000, help="rows for the large query run (default 10M)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--all-cores-only", action="store_true", help="skip the one-core re-run (e.g. a 10M-row run)")
    ap.add_argument("--only", default="ingest,queries,rounds",
                    help="phases to run, comma-separated (default ingest,queries,rounds)")
    ap.add_argument("--round-seconds", type=float, default=8.0, help="length of the /v1/round run (default 8)")
    args = ap.parse_args()
    header("bench.hub_ingest")
    print(f"cores: {sorted(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pki = make_pki(d, "dev-00")
        creds = {"dev-00": (pki.device_cert, pki.device_key)}
        for i in range(1, DEVICES):
            c = enroll(pki.ca_dir, f"dev-{i:02d}", d / f"dev-{i:02d}")
            creds[f"dev-{i:02d}"] = (c.cert, c.key)
        for name in args.backends.split(","):
            if name == "sqlite":
                run_backend(name, str(d / "hub.sqlite"), pki, creds, args, str(d / "floor.sqlite"))
            else:
                with PgCluster(fsync=True) as pg:
                    run_backend(name, pg.database("hub"), pki, creds, args, pg.database("floor"), pg.pid)
    if not args.all_cores_only:
        then_one_core("bench.hub_ingest")


if __name__ == "__main__":
    main()
