"""Fuzz campaign: mutated signed payloads, trust lists, status lists and hub upload bodies.

    .venv/bin/python -m bench.fuzz [--count 1000000] [--seconds 0] [--seed 1]

Round-robin over the targets of `tests/helpers/fuzz.py`: each execution mutates the target's valid,
signed seed (1-4 byte flips, replacements, insertions, deletions, duplications, truncations) and runs
it. Prints executions, crashes (any untyped exception) and forgeries (accepted content that differs
from what was signed) per target, and the time taken. Stops at `--count` executions or after
`--seconds` (0: no time limit), whichever comes first. Crashing inputs are written to
`fuzz-crashes/` for replay.
"""

from __future__ import annotations

import argparse
import base64
import random
import time
from collections import Counter
from pathlib import Path

from tests.helpers.fuzz import build_targets, mutate, run_one


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    targets = build_targets()
    rng = random.Random(args.seed)
    stats = {t.name: Counter[str]() for t in targets}
    crash_dir = Path("fuzz-crashes")
    t0 = time.perf_counter()
    n = 0
    while n < args.count and not (args.seconds and time.perf_counter() - t0 > args.seconds):
        target = targets[n % len(targets)]
        data = mutate(target.seed, rng)
        outcome, detail = run_one(target, data)
        stats[target.name][outcome] += 1
        if outcome in ("crash", "forged"):
            crash_dir.mkdir(exist_ok=True)
            (crash_dir / f"{outcome}-{n}.b64").write_text(
                f"{target.name}\n{detail}\n{base64.b64encode(data).decode()}\n")
        n += 1
        if n % 100_000 == 0:
            print(f"  ... {n} executions, {time.perf_counter() - t0:.0f} s", flush=True)
    took = time.perf_counter() - t0
    crashes = sum(s["crash"] for s in stats.values())
    forged = sum(s["forged"] for s in stats.values())
    print(f"{n} executions in {took:.1f} s ({n / took:.0f}/s): {crashes} crashes, {forged} forgeries")
    for name, s in stats.items():
        total = sum(s.values())
        print(f"  {name}: {total} executions, {s['refused']} refused, {s['accepted']} accepted unchanged, "
              f"{s['crash']} crashes, {s['forged']} forgeries")


if __name__ == "__main__":
    main()
