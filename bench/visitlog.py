"""Benchmark: durable visit-log appends per second (WAL, synchronous=FULL: each append is on disk), all
cores then one.

The floor, in the same run and directory and interleaved with the appends, is a bare SQLite insert of a
row of the same size, one transaction each, with the same durability; the ratio is what the log's own
work (hash chain, outbox entry, checks) adds to the fsync.
    .venv/bin/python -m bench.visitlog [--count 2000] [--dir DIR]

Use --dir on the device's real storage (SD card, eMMC): /tmp is often RAM and flatters the figure.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench import cores
from keys import durable
from scanner.storage.chain import new_visit_id
from scanner.storage.visitlog import VisitLog, VisitRecord


def record(i: int) -> VisitRecord:
    now = time.time()
    return VisitRecord(visit_id=new_visit_id(now), ts_ms=int(now * 1000), device_id="bench", checkpoint_id="gate-1",
                       profile="transport", clock_trusted=True, verdict="ok", admit=True, tone="pass",
                       format="HCC1", issuer="CN-ZJ", code_id=f"{i:032x}", subject="ab" * 16,
                       code_type="personal", status="green", trust_list_version=42, status_list_version=1001,
                       latency_ms=6, extra={"drug_categories": ["antipyretic"]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--dir", help="directory for the database (default: a temporary directory)")
    args = ap.parse_args()
    cores.header("bench/visitlog.py")
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        log = VisitLog(Path(d) / "visits.sqlite")
        floor = BareTable(Path(d) / "floor.sqlite")
        records = [record(i) for i in range(args.count)]
        lat, bare = [], []
        # Interleaved, so both see the same storage (fsync times drift over a run).
        for i, r in enumerate(records):
            t = time.perf_counter()
            log.append(r)
            lat.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            floor.insert(i)
            bare.append((time.perf_counter() - t) * 1000)
        assert log.verify().ok
        log.close()
        floor.close()
    total, floor_total = sum(lat) / 1000, sum(bare) / 1000
    lat.sort()
    bare.sort()
    print(f"  floor: {args.count} bare SQLite inserts, one durable transaction each: {floor_total:.2f} s = "
          f"{args.count / floor_total:.0f} /s (p50 {statistics.median(bare):.2f} ms)")
    print(f"  visit log: {args.count} durable appends in {total:.2f} s = {args.count / total:.0f} appends/s "
          f"(p50 {statistics.median(lat):.2f} ms, p99 {lat[int(len(lat) * 0.99) - 1]:.2f} ms) in {d}")
    ratio = total / floor_total
    print(f"  append cost / bare insert cost = {ratio:.2f}x", flush=True)
    cores.then_one_core("bench.visitlog")


class BareTable:
    """The floor: a table like the log's, one row per transaction, as durable (WAL, synchronous=FULL)."""

    def __init__(self, path: Path):
        self.conn = durable.connect(path, synchronous="FULL")
        self.conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, visit_id TEXT, row TEXT)")

    def insert(self, i: int) -> None:
        with durable.immediate_transaction(self.conn):
            self.conn.execute("INSERT INTO t VALUES (?, ?, ?)", (i, f"{i:032x}", "x" * 400))  # a visit row's size

    def close(self) -> None:
        self.conn.close()


if __name__ == "__main__":
    main()
