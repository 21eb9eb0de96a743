"""Benchmark: durable visit-log appends per second (WAL, synchronous=FULL: each append is on disk).

    .venv/bin/python -m bench.visitlog [--count 2000] [--dir DIR]

Use --dir on the device's real storage (SD card, eMMC): /tmp is often RAM and flatters the figure.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

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
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        log = VisitLog(Path(d) / "visits.sqlite")
        records = [record(i) for i in range(args.count)]
        lat = []
        t0 = time.perf_counter()
        for r in records:
            t = time.perf_counter()
            log.append(r)
            lat.append((time.perf_counter() - t) * 1000)
        total = time.perf_counter() - t0
        assert log.verify().ok
        log.close()
    lat.sort()
    print(f"visit log: {args.count} durable appends in {total:.2f} s = {args.count / total:.0f} appends/s "
          f"(p50 {statistics.median(lat):.2f} ms, p99 {lat[int(len(lat) * 0.99) - 1]:.2f} ms) in {d}")


if __name__ == "__main__":
    main()
