"""Status store at scale: apply a 1M-entry snapshot and a 10k-entry delta, then time lookups.

Apply includes everything the device does with a downloaded list: JSON parsing, signature
verification, Base64 decoding and the SQLite transaction on a real file (WAL).
Goals: apply <= 15 s, lookup p99 <= 100 µs; the database size is reported.
    .venv/bin/python -m bench.statuslist [--entries 1000000] [--delta 10000] [--lookups 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from keys.keyfile import generate_key
from keys.publishing import KeyEntry, sign_status_list, sign_trust_list
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--delta", type=int, default=10_000)
    ap.add_argument("--lookups", type=int, default=20_000)
    args = ap.parse_args()
    now = int(time.time())
    root, zj = generate_key("ES256"), generate_key("ES256")
    trust = TrustStore.from_document(sign_trust_list(root, [KeyEntry(zj.public_key(), "CN-ZJ", "浙江", "Zhejiang",
                                                                     not_before=now - 86400, not_after=now + 86400)],
                                                     version=1, issued_at=now, next_update=now + 86400),
                                     [root.public_key()])
    rng = random.Random(7)
    subs = [rng.randbytes(16) for _ in range(args.entries)]
    print(f"bench/statuslist.py — building a signed {args.entries:,}-entry snapshot …", flush=True)
    snapshot = json.dumps(sign_status_list(zj, issuer="CN-ZJ", version=1, issued_at=now, next_update=now + 3600,
                                           subjects=((s, rng.choice((1, 2)), now - 60) for s in subs),
                                           revoked=[rng.randbytes(16) for _ in range(1000)]))
    delta_subs = rng.sample(subs, args.delta // 2) + [rng.randbytes(16) for _ in range(args.delta // 2)]
    delta = json.dumps(sign_status_list(zj, issuer="CN-ZJ", version=2, base=1, issued_at=now, next_update=now + 3600,
                                        subjects=((s, rng.choice((0, 1, 2)), now) for s in delta_subs)))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "status.sqlite"
        store = StatusStore.open(db)
        t0 = time.perf_counter()
        store.apply(snapshot, trust, "snapshot")
        t_snap = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.apply(delta, trust, "delta")
        t_delta = time.perf_counter() - t0
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        probes = [rng.choice(subs) if i % 2 else rng.randbytes(16) for i in range(args.lookups)]
        cti = os.urandom(16)
        lat = []
        for sub in probes:
            t0 = time.perf_counter_ns()
            store.facts("CN-ZJ", cti, sub)
            lat.append((time.perf_counter_ns() - t0) / 1000)
        lat.sort()
        count = store.count("CN-ZJ")
    print(f"  snapshot size        {len(snapshot) / 1e6:8.1f} MB JSON, {args.entries:,} subjects")
    print(f"  apply snapshot       {t_snap:8.2f} s   (goal <= 15 s: {'met' if t_snap <= 15 else 'NOT met'})")
    print(f"  apply delta          {t_delta * 1000:8.1f} ms  ({args.delta:,} entries)")
    print(f"  subjects held        {count:,}")
    print(f"  database size        {size / 1e6:8.1f} MB")
    p99 = lat[int(len(lat) * 0.99)]
    print(f"  lookup (status facts: issuer, revocation, subject) over {len(lat):,} probes, half hits:")
    print(f"    p50 {statistics.median(lat):6.1f} µs   p99 {p99:6.1f} µs   max {lat[-1]:7.1f} µs   "
          f"(goal p99 <= 100 µs: {'met' if p99 <= 100 else 'NOT met'})")


if __name__ == "__main__":
    main()
