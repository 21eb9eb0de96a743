"""`checkpoint demo`: a generated world (keys, lists, sample codes of every kind), checked and shown.

By default it runs the kiosk on that world (`ui.demo`: windowed with a display, offscreen with
screenshots without one). `--table` prints a table of each sample code's decision at a chosen venue
instead, headless and without Qt.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def run_table(out_dir: Path, profile_name: str) -> int:
    from keys.keyfile import load_public_key
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore
    from scanner.checker import Checker
    from scanner.clock import FixedClock
    from scanner.demo_data import build_demo_world
    from scanner.policy import load_profile

    now = int(time.time())
    world = build_demo_world(out_dir, now, qr=True)
    trust = TrustStore.from_file(world.trust_list_path, [load_public_key(world.anchor_path)])
    status = StatusStore.open(":memory:")
    for p in world.status_list_paths:
        status.apply(p.read_bytes(), trust, str(p))
    checker = Checker(trust, status, load_profile(profile_name), clock=FixedClock(now))
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    print(f"Checkpoint demo — venue profile '{profile_name}' ({checker.profile.title.en}), "
          f"data in {out_dir}\n")
    header = (f"{'sample':<13} {'decision':<7} {'verdict':<14} {'status':<7} {'issuer':<20} "
              f"{'shown':<10} words")
    print(header)
    print("-" * len(header))
    mismatches = 0
    for s in world.samples.values():
        d = checker.check(s.payload)
        r = d.result
        issuer = f"{r.issuer} {r.issuer_name.en}" if r.issuer and r.issuer_name else (r.issuer or "-")
        who = r.name or "-"
        if r.guardian:
            who += f" (by {r.guardian.name}, {r.guardian.relation_name})"
        words = f"{d.headline.zh} / {d.headline.en}" + (f" — {d.reason.en}" if d.reason else "")
        status_txt = r.status.value if r.status else "-"
        print(f"{s.name:<13} {'ADMIT' if d.admit else 'DENY':<7} {r.verdict.value:<14} {status_txt:<7} "
              f"{issuer:<20} {who:<10} {words}")
        if r.verdict.value != s.expect_verdict or (r.status.value if r.status else None) != s.expect_status:
            mismatches += 1
            print(f"  !! expected {s.expect_verdict}/{s.expect_status}", file=sys.stderr)
    print(f"\nSample payloads: {out_dir / 'codes.json'}; QR images: {out_dir / 'qr'}")
    print(f"Try one yourself:\n  checkpoint check --anchor {out_dir}/root.pem "
          f"--trust-list {out_dir}/trustlist.json --status-list {out_dir}/status-CN-ZJ.json "
          f"--image {out_dir}/qr/green.png")
    return 1 if mismatches else 0


def run(args: argparse.Namespace) -> int:
    if not args.table:
        # The kiosk lives in ui/ (Qt); the core never imports it at module level.
        import importlib

        return int(importlib.import_module("ui.demo").run(args))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        return run_table(out, args.profile)
    with tempfile.TemporaryDirectory(prefix="checkpoint-demo-") as tmp:
        return run_table(Path(tmp), args.profile)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demo on generated keys, lists and sample codes")
    p.add_argument("--out", metavar="DIR", help="keep the generated world in DIR (default: a temp dir)")
    p.add_argument("--profile", default="transport", help="venue profile to decide with")
    p.add_argument("--table", action="store_true", help="print the decision table only (headless)")
    p.add_argument("--duration", type=float, metavar="S", help="stop the kiosk demo after S seconds")
    p.add_argument("--screenshots", metavar="DIR", help="where the kiosk demo saves its screenshots")
    p.add_argument("--windowed", action="store_true", help="open a window even without a DISPLAY variable")
    p.add_argument("--scene-seconds", type=float, default=2.5, metavar="S",
                   help="how long each sample code is shown to the camera (default 2.5)")
    p.add_argument("--no-hub", action="store_true", help="no local hub and sync agent on loopback")
    p.set_defaults(func=run)
