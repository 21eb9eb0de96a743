"""`checkpoint check` on one payload as a script calls it: a new process each time, all cores then one.

Each round starts the command once (anchor, trust list, the three status lists, one green HCC1 code)
and, as the floor, `python -c pass` from the same interpreter, interleaved so both see the same load.
Printed: the median wall time, CPU time and peak RSS of each, and the command's ratio to the floor.
Goals: wall <= 0.2 s and peak RSS <= 40 MB.

The batch path: `checkpoint check -` reading `--batch` distinct green codes (default 5,000) from stdin, as
a script pipes a day's scans through it, plain lines and `--json`, its whole wall time (start-up
included) per code against one raw ES256 verify (cryptography, the same key and the same number of
distinct signed messages, in a child of its own) in the same rounds. Goal: <= 2x the raw verify.

Peak RSS is the kernel's figure for each child, which starts from what the forking process held: the
bench itself stays small (the demo world is generated in a child process of its own), and prints its own
peak beside the floor.
Python is run as an installed device runs it, with its bytecode cached (here in a temporary
`PYTHONPYCACHEPREFIX`, after one warm-up run); `--no-bytecode` also measures a start that compiles every
module first (a fresh install, or a shell with PYTHONDONTWRITEBYTECODE set).
    .venv/bin/python -m bench.cli [--runs 15] [--no-bytecode] [--batch 5000] [--batch-rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import cores

GOAL_WALL = 0.2
GOAL_RSS_MB = 40.0


# Run in a child: the keys, lists and code this bench checks, as JSON on stdout.
WORLD = """
import json, sys, time
from pathlib import Path
from keys.hcc1 import CodeClaims, issue_code
from keys.keyfile import load_private_key
from scanner.demo.world import build_demo_world
now = int(time.time())
w = build_demo_world(sys.argv[1], now)
key = load_private_key(Path(sys.argv[1]) / "issuer-CN-ZJ.key")
batch = Path(sys.argv[1]) / "batch.txt"
batch.write_text("".join(issue_code(key, CodeClaims(iss="CN-ZJ", iat=now - 3600, exp=now + 20 * 3600)) + "\\n"
                         for _ in range(int(sys.argv[2]))))
print(json.dumps({"anchor": str(w.anchor_path), "trust_list": str(w.trust_list_path),
                  "status_lists": [str(p) for p in w.status_list_paths], "payload": w.payloads["green"],
                  "batch": str(batch), "issuer_key": str(Path(sys.argv[1]) / "issuer-CN-ZJ.key")}))
"""

# Run in a child: `n` raw ES256 verifications of distinct messages with the issuer's key (the floor).
RAW = """
import os, sys, time
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from keys.keyfile import load_private_key
key = load_private_key(sys.argv[1])
n = int(sys.argv[2])
signed = [(m, key.sign(m, ec.ECDSA(hashes.SHA256()))) for m in (os.urandom(200) for _ in range(n))]
pub = key.public_key()
t0 = time.perf_counter()
for m, sig in signed:
    pub.verify(sig, m, ec.ECDSA(hashes.SHA256()))
print(time.perf_counter() - t0)
"""


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one run of `cmd`, which must succeed."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        err = p.stderr.read().decode(errors="replace") if p.stderr else ""
        raise SystemExit(f"{' '.join(cmd[:3])} … failed ({p.returncode}): {err.strip()}")
    if p.stderr:
        p.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(label: str, check: list[str], floor: list[str], env: dict[str, str], runs: int) -> None:
    got: dict[str, list[tuple[float, float, float]]] = {"floor": [], "check": []}
    for _ in range(runs):
        got["floor"].append(run_once(floor, env))
        got["check"].append(run_once(check, env))
    med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in got.items()}
    fw, fc, fr = med["floor"]
    cw, cc, cr = med["check"]
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {label}, median of {runs} (this bench's own peak RSS {own:.1f} MB):")
    print(f"    floor  python -c pass    wall {fw * 1000:6.0f} ms   CPU {fc * 1000:6.0f} ms   RSS {fr:5.1f} MB")
    print(f"    checkpoint check         wall {cw * 1000:6.0f} ms   CPU {cc * 1000:6.0f} ms   RSS {cr:5.1f} MB   "
          f"({cw / fw:.1f}x the floor's wall)")
    print(f"    goal wall <= {GOAL_WALL} s: {'met' if cw <= GOAL_WALL else 'NOT met'};   "
          f"goal RSS <= {GOAL_RSS_MB:.0f} MB: {'met' if cr <= GOAL_RSS_MB else 'NOT met'}", flush=True)


def run_batch(cmd: list[str], batch: str, env: dict[str, str], n: int) -> float:
    """Wall seconds of `cmd` checking the `n` codes in `batch` from stdin; every code must be answered."""
    t0 = time.perf_counter()
    with open(batch, "rb") as f:
        p = subprocess.run(cmd, env=env, stdin=f, capture_output=True)
    wall = time.perf_counter() - t0
    answered = p.stdout.count(b"\n")
    if p.returncode != 0 or answered != n:
        raise SystemExit(f"check - failed ({p.returncode}, {answered} of {n} answered): "
                         f"{p.stderr.decode(errors='replace').strip()}")
    return wall


def measure_batch(check: list[str], world: dict[str, str], env: dict[str, str], n: int, rounds: int) -> None:
    got: dict[str, list[float]] = {"raw": [], "plain": [], "json": []}
    for _ in range(rounds):
        raw = subprocess.run([sys.executable, "-c", RAW, world["issuer_key"], str(n)], env=env, check=True,
                             capture_output=True, text=True)
        got["raw"].append(float(raw.stdout))
        got["plain"].append(run_batch([*check, "-"], world["batch"], env, n))
        got["json"].append(run_batch([*check, "--json", "-"], world["batch"], env, n))
    raw_s = statistics.median(got["raw"])
    print(f"  batch: `checkpoint check -` with {n:,} distinct codes on stdin, median of {rounds}:")
    print(f"    floor  raw ES256 verify  {raw_s / n * 1e6:7.1f} µs a code   ({n / raw_s:,.0f}/s)")
    for name in ("plain", "json"):
        wall = statistics.median(got[name])
        ratio = wall / raw_s
        print(f"    check - {'--json' if name == 'json' else '(lines)':9} {wall / n * 1e6:7.1f} µs a code   "
              f"({n / wall:,.0f}/s, start-up included) = {ratio:.2f}x raw   "
              f"goal <= 2x: {'met' if ratio <= 2 else 'NOT met'}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--no-bytecode", action="store_true", help="also measure starts that compile every module")
    ap.add_argument("--batch", type=int, default=5000, help="codes piped through `check -` (0: skip)")
    ap.add_argument("--batch-rounds", type=int, default=5)
    args = ap.parse_args()
    cores.header("bench/cli.py")
    exe = Path(sys.executable).parent / "checkpoint"
    with tempfile.TemporaryDirectory() as tmp:
        world = json.loads(subprocess.run([sys.executable, "-c", WORLD, str(Path(tmp) / "world"),
                                           str(max(args.batch, 1))], check=True,
                                          capture_output=True, text=True).stdout)
        check = [str(exe), "check", "--anchor", world["anchor"], "--trust-list", world["trust_list"]]
        for p in world["status_lists"]:
            check += ["--status-list", p]
        check.append(world["payload"])
        floor = [sys.executable, "-c", "pass"]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        run_once(check, env)  # compiles and caches the bytecode
        measure("bytecode cached (as installed)", check, floor, env, args.runs)
        if args.batch:
            measure_batch(check[:-1], world, env, args.batch, args.batch_rounds)
        if args.no_bytecode:
            cold = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(Path(tmp) / "empty")}
            measure("no bytecode cache (every module compiled)", check, floor, cold, max(3, args.runs // 3))
    cores.then_one_core("bench.cli")


if __name__ == "__main__":
    main()
