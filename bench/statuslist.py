"""Status store at scale: apply a signed snapshot from its file, then a 10k-entry delta, then time lookups;
all cores, then one.

Apply is everything the device does with a downloaded list: reading the file a batch at a time, Base64 and
JSON decoding, the signature, staging and the SQLite transaction on a real file (WAL). Each size is applied
in a child process of its own, which reports the time and its peak RSS above what it held just before
(the list itself is written to disk beforehand, a batch at a time, and is not in memory).
Goals: 1M entries in <= 8 s and <= 150 MB extra; 10M entries (`--ten-million`) in <= 100 s with a flat
memory profile (extra RSS no more than at 1M, plus a margin); lookup p99 <= 100 µs; the database size is
reported.
    .venv/bin/python -m bench.statuslist [--entries 1000000] [--ten-million] [--delta 10000] [--lookups 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench import cores

GOAL_1M_SECONDS = 8.0
GOAL_1M_EXTRA_MB = 150.0
GOAL_10M_SECONDS = 100.0
# "Flat": ten times the entries may cost at most this much more memory than the 1M run.
FLAT_MARGIN_MB = 32.0


def subjects(seed: int, n: int, now: int) -> Iterator[tuple[bytes, int, int]]:
    rng = random.Random(seed)
    for _ in range(n):
        yield rng.randbytes(16), rng.choice((1, 2)), now - 60


def rss_mb(field: str) -> float:
    """VmRSS or VmHWM (the peak) of this process, in MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(args: argparse.Namespace) -> None:
    """Apply the lists in a fresh process and print what it took, as JSON."""
    from keys.keyfile import load_public_key
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore

    trust = TrustStore.from_file(args.trust_list, [load_public_key(args.anchor)])
    store = StatusStore.open(args.db)
    before = rss_mb("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    store.apply_file(args.snapshot, trust, "snapshot")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    extra = rss_mb("VmHWM") - before
    out = {"seconds": seconds, "cpu": cpu, "extra_mb": extra, "count": store.count("CN-ZJ")}
    if args.delta_file:
        t0 = time.perf_counter()
        store.apply_file(args.delta_file, trust, "delta")
        out["delta_ms"] = (time.perf_counter() - t0) * 1000
        out["count_after_delta"] = store.count("CN-ZJ")
    store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out["db_mb"] = sum(p.stat().st_size for p in Path(args.db).parent.glob(Path(args.db).name + "*")) / 1e6
    if args.lookups:
        held = [r[0] for r in store._conn.execute("SELECT sub FROM subjects ORDER BY random() LIMIT ?",
                                                  (args.lookups // 2,))]
        rng = random.Random(9)
        probes = [held[i // 2 % len(held)] if i % 2 else rng.randbytes(16) for i in range(args.lookups)]
        cti = os.urandom(16)
        lat = []
        for sub in probes:
            t0n = time.perf_counter_ns()
            store.facts("CN-ZJ", cti, sub)
            lat.append((time.perf_counter_ns() - t0n) / 1000)
        lat.sort()
        out.update(p50=lat[len(lat) // 2], p99=lat[int(len(lat) * 0.99)], max=lat[-1], probes=len(lat))
    print(json.dumps(out))


def run(tmp: Path, entries: int, now: int, args: argparse.Namespace, keys: dict[str, object]) -> dict:
    from keys.publishing import write_status_list

    zj = keys["zj"]
    snapshot = tmp / f"snapshot-{entries}.json"
    t0 = time.perf_counter()
    rng = random.Random(entries)
    write_status_list(snapshot, zj, issuer="CN-ZJ", version=1, issued_at=now, next_update=now + 3600,  # type: ignore[arg-type]
                      subjects=subjects(7, entries, now), revoked=[rng.randbytes(16) for _ in range(1000)])
    made = time.perf_counter() - t0
    cmd = [sys.executable, "-m", "bench.statuslist", "--child", "--db", str(tmp / f"status-{entries}.sqlite"),
           "--snapshot", str(snapshot), "--trust-list", str(keys["trust_list"]), "--anchor", str(keys["anchor"])]
    if args.delta and entries == args.entries:
        half = args.delta // 2
        delta = tmp / "delta.json"
        known = (sub for sub, _, _ in subjects(7, half, now))
        write_status_list(delta, zj, issuer="CN-ZJ", version=2, base=1, issued_at=now, next_update=now + 3600,  # type: ignore[arg-type]
                          subjects=[(s, rng.choice((0, 1, 2)), now) for s in known]
                          + [(rng.randbytes(16), rng.choice((1, 2)), now) for _ in range(args.delta - half)])
        cmd += ["--delta-file", str(delta), "--lookups", str(args.lookups)]
    got = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    got.update(entries=entries, file_mb=snapshot.stat().st_size / 1e6, made_s=made)
    snapshot.unlink()
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--ten-million", action="store_true", help="also apply a 10M-entry snapshot (minutes)")
    ap.add_argument("--delta", type=int, default=10_000)
    ap.add_argument("--lookups", type=int, default=20_000)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("--db", "--snapshot", "--delta-file", "--trust-list", "--anchor"):
        ap.add_argument(name, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    cores.header("bench/statuslist.py")
    from keys.keyfile import generate_key, write_public_key
    from keys.publishing import KeyEntry, sign_trust_list

    now = int(time.time())
    root, zj = generate_key("ES256"), generate_key("ES256")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        keys: dict[str, object] = {"zj": zj, "anchor": write_public_key(tmp / "root.pem", root.public_key()),
                                   "trust_list": tmp / "trustlist.json"}
        tl = sign_trust_list(root, [KeyEntry(zj.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=now - 86400,
                                             not_after=now + 86400)], version=1, issued_at=now,
                             next_update=now + 86400)
        (tmp / "trustlist.json").write_text(json.dumps(tl), encoding="utf-8")
        sizes = [args.entries] + ([10_000_000] if args.ten_million else [])
        results = []
        for n in sizes:
            print(f"  writing and applying a signed {n:,}-entry snapshot (ES256) …", flush=True)
            results.append(run(tmp, n, now, args, keys))
    first = results[0]
    for r in results:
        n = r["entries"]
        print(f"  {n:>10,} entries: file {r['file_mb']:7.1f} MB (written in {r['made_s']:.1f} s); "
              f"apply {r['seconds']:6.2f} s (CPU {r['cpu']:.2f} s; {n / r['seconds'] / 1000:,.0f}k entries/s), "
              f"peak extra RSS {r['extra_mb']:6.1f} MB; {r['count']:,} subjects held, db {r['db_mb']:.0f} MB")
        if n == 1_000_000:
            met = r["seconds"] <= GOAL_1M_SECONDS
            print(f"      goal 1M <= {GOAL_1M_SECONDS:.0f} s: {'met' if met else 'NOT met'}; "
                  f"goal <= {GOAL_1M_EXTRA_MB:.0f} MB extra: "
                  f"{'met' if r['extra_mb'] <= GOAL_1M_EXTRA_MB else 'NOT met'}")
        if n == 10_000_000:
            flat = r["extra_mb"] <= first["extra_mb"] + FLAT_MARGIN_MB
            print(f"      goal 10M <= {GOAL_10M_SECONDS:.0f} s: "
                  f"{'met' if r['seconds'] <= GOAL_10M_SECONDS else 'NOT met'}; goal flat memory (<= the "
                  f"{first['entries']:,} run's + {FLAT_MARGIN_MB:.0f} MB): {'met' if flat else 'NOT met'}")
    if "delta_ms" in first:
        print(f"  apply delta          {first['delta_ms']:8.1f} ms  ({args.delta:,} entries; "
              f"{first['count_after_delta']:,} subjects after)")
    if "p99" in first:
        print(f"  lookup (status facts: issuer, revocation, subject) over {first['probes']:,} probes, half hits:")
        print(f"    p50 {first['p50']:6.1f} µs   p99 {first['p99']:6.1f} µs   max {first['max']:7.1f} µs   "
              f"(goal p99 <= 100 µs: {'met' if first['p99'] <= 100 else 'NOT met'})", flush=True)
    cores.then_one_core("bench.statuslist")


if __name__ == "__main__":
    main()
