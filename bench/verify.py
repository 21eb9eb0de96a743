"""HCC1 checks per second on one core, next to raw ES256 verifications per second on the same run.

A check is the whole path a scan takes after the QR decoder: decode (Base45, zlib, CBOR, COSE), trust
lookup, signature verification, status-list lookups in SQLite, time checks and the venue policy.
Goals: >= 5,000 checks/s and <= 2x the raw verify cost.
    .venv/bin/python -m bench.verify [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from keys.keyfile import load_public_key
from keys.signing import verify_raw
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.checker import Checker
from scanner.clock import FixedClock
from scanner.codes import decode_payload
from scanner.demo.world import build_demo_world
from scanner.policy import load_profile


def rate(fn, seconds: float) -> tuple[float, int]:
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    with tempfile.TemporaryDirectory() as tmp:
        now = int(time.time())
        world = build_demo_world(tmp, now)
        trust = TrustStore.from_file(world.trust_list_path, [load_public_key(world.anchor_path)])
        status = StatusStore.open(Path(tmp) / "status.sqlite")  # a real file, as on the device
        for p in world.status_list_paths:
            status.apply(p.read_bytes(), trust, str(p))
        checker = Checker(trust, status, load_profile("transport"), clock=FixedClock(now))
        payload = world.payloads["green"]
        assert checker.check(payload).admit

        code = decode_payload(payload)
        key = trust.keys_for(code.kid)[0].public_key
        raw_rate, raw_n = rate(lambda: verify_raw(key, code.signature, code.signed_data), args.seconds)
        check_rate, check_n = rate(lambda: checker.check(payload), args.seconds)
        decode_rate, _ = rate(lambda: decode_payload(payload), args.seconds / 2)

    print("bench/verify.py — one core, green ES256 code, warm trust store, status store on SQLite")
    print(f"  raw ES256 verify      {raw_rate:10,.0f} /s   ({1e6 / raw_rate:6.1f} µs, n={raw_n})")
    print(f"  decode only           {decode_rate:10,.0f} /s   ({1e6 / decode_rate:6.1f} µs)")
    print(f"  full check            {check_rate:10,.0f} /s   ({1e6 / check_rate:6.1f} µs, n={check_n})")
    ratio = raw_rate / check_rate
    print(f"  check cost / raw verify cost = {ratio:.2f}x")
    print(f"  goal >= 5,000 checks/s: {'met' if check_rate >= 5000 else 'NOT met'}; "
          f"goal <= 2x raw verify: {'met' if ratio <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
