"""`checkpoint demo --table`: the generated world's sample codes checked at one venue, as a table. No Qt.

Headless and quick: every sample code (`scanner.demo.world`) is decided by a real `Checker` and printed
with its words, and a mismatch with the sample's expected verdict makes the exit code 1.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def run_table(out_dir: Path, profile_name: str) -> int:
    from keys.keyfile import load_public_key
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore
    from scanner.checker import Checker
    from scanner.clock import FixedClock
    from scanner.demo.world import build_demo_world
    from scanner.policy import load_profile
    from scanner.rules.ruleslist import RulesStore

    now = int(time.time())
    world = build_demo_world(out_dir, now, qr=True)
    trust = TrustStore.from_file(world.trust_list_path, [load_public_key(world.anchor_path)])
    status = StatusStore.open(":memory:")
    for p in world.status_list_paths:
        status.apply(p.read_bytes(), trust, str(p))
    rules = RulesStore.from_file(world.rules_list_path, trust.anchors) if world.rules_list_path else None
    checker = Checker(trust, status, load_profile(profile_name), clock=FixedClock(now), rules=rules)
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
