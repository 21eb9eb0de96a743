"""HCC1 and EU DCC checks per second, next to raw ES256 (P-256) verifications per second on the same run.

A check is the whole path a scan takes after the QR decoder: decode (Base45, zlib, CBOR, COSE), trust
lookup, signature verification, status-list lookups in SQLite, time checks and the venue policy.
A DCC check adds the schema check of the payload and the DSC lookup (key usage, validity) instead of
the status lookups. Goals: >= 5,000 checks/s and <= 2x the raw verify cost, for both formats.
By default the process pins itself to one core; `--all-cores` leaves it free (compare with
`taskset -c 0`).
    .venv/bin/python -m bench.verify [--seconds 3] [--all-cores]
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
from scanner.codes.dcc import decode_dcc
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
    ap.add_argument("--all-cores", action="store_true", help="do not pin the process to one core")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity") and not args.all_cores:
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
        dcc = world.payloads["dcc_vaccination"]
        assert checker.check(dcc).admit
        dcc_rate, dcc_n = rate(lambda: checker.check(dcc), args.seconds)
        dcc_decode_rate, _ = rate(lambda: decode_dcc(dcc), args.seconds / 2)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"bench/verify.py — {cores} core(s), green ES256 code, warm trust store, status store on SQLite")
    print(f"  raw ES256 verify      {raw_rate:10,.0f} /s   ({1e6 / raw_rate:6.1f} µs, n={raw_n})")
    print(f"  decode only           {decode_rate:10,.0f} /s   ({1e6 / decode_rate:6.1f} µs)")
    print(f"  full check            {check_rate:10,.0f} /s   ({1e6 / check_rate:6.1f} µs, n={check_n})")
    ratio = raw_rate / check_rate
    print(f"  check cost / raw verify cost = {ratio:.2f}x")
    print(f"  goal >= 5,000 checks/s: {'met' if check_rate >= 5000 else 'NOT met'}; "
          f"goal <= 2x raw verify: {'met' if ratio <= 2 else 'NOT met'}")
    dcc_ratio = raw_rate / dcc_rate
    print("  EU DCC (HC1:, ES256 DSC, vaccination, schema check, transport profile):")
    print(f"  DCC decode only       {dcc_decode_rate:10,.0f} /s   ({1e6 / dcc_decode_rate:6.1f} µs)")
    print(f"  DCC full check        {dcc_rate:10,.0f} /s   ({1e6 / dcc_rate:6.1f} µs, n={dcc_n})")
    print(f"  DCC check cost / raw verify cost = {dcc_ratio:.2f}x; "
          f"goal <= 2x raw verify: {'met' if dcc_ratio <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
