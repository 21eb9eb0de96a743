"""What business rules add to a DCC check: CertLogic on the venue's rule sets, next to a raw ES256 verify.

A vaccination DCC at a transport gate (3G + hcc1-transport: four rules apply) is checked by the same
`Checker` with and without the signed rules list; the rules alone are timed through `apply_rules` on the
verified result. The floor is one raw ES256 (P-256) signature verification measured in the same run.
Each figure is printed for the process's own cores and again pinned to one core.
    .venv/bin/python -m bench.rules [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from keys.dcc import DccCode, generate_dsc_key, issue_dcc, make_dsc, payload_vaccination
from keys.keyfile import generate_key
from keys.publishing import DccEntry, sign_trust_list
from keys.signing import sign_raw, verify_raw
from keys.trustlist import TrustStore
from scanner.checker import Checker
from scanner.clock import FixedClock
from scanner.policy import load_profile
from scanner.rules.ruleslist import RulesStore
from scanner.rules.shipped import sign_example_rules_list
from scanner.rules.verdict import apply_rules
from scanner.verify import verify_code

NOW = 1_700_000_000
DAY = 86400


def rate(fn: Callable[[], object], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(100):
            fn()
        n += 100
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def measure(seconds: float) -> dict[str, float]:
    root = generate_key("ES256")
    dsc_key = generate_dsc_key("P-256")
    cert = make_dsc(dsc_key, "DE", not_before=NOW - 365 * DAY, not_after=NOW + 365 * DAY)
    trust = TrustStore.from_document(sign_trust_list(root, [], version=1, issued_at=NOW - DAY,
                                                     next_update=NOW + DAY, dcc=[DccEntry(cert, "DE")]),
                                     [root.public_key()])
    rules = RulesStore.from_document(sign_example_rules_list(root, version=1, issued_at=NOW - DAY,
                                                             next_update=NOW + DAY), [root.public_key()])
    payload = issue_dcc(dsc_key, cert, DccCode(hcert=payload_vaccination("DE", "URN:UVCI:01:DE:B#1",
                                                                         date="2023-09-01"),
                                               iss="DE", iat=NOW - DAY, exp=NOW + 300 * DAY))
    profile = load_profile("transport")
    with_rules = Checker(trust, None, profile, clock=FixedClock(NOW), rules=rules)
    without = Checker(trust, None, profile, clock=FixedClock(NOW))
    assert with_rules.check(payload).admit and without.check(payload).admit
    verified = verify_code(payload, trust, None, NOW, max_code_age=0)
    book = rules.book
    assert book is not None and apply_rules(verified, book, profile.rule_sets, NOW) is verified

    floor_key = generate_key("ES256")
    data = b"x" * 200
    signature = sign_raw(floor_key, data)
    public = floor_key.public_key()
    return {
        "raw": rate(lambda: verify_raw(public, signature, data), seconds),
        "rules": rate(lambda: apply_rules(verified, book, profile.rule_sets, NOW), seconds),
        "without": rate(lambda: without.check(payload), seconds),
        "with": rate(lambda: with_rules.check(payload), seconds),
    }


def report(title: str, r: dict[str, float]) -> None:
    print(title)
    for key, label in (("raw", "raw ES256 verify (floor)"), ("rules", "rules only (apply_rules)"),
                       ("without", "DCC check, no rules list"), ("with", "DCC check with 3G rules")):
        print(f"  {label:<26} {r[key]:10,.0f} /s  ({1e6 / r[key]:7.1f} µs)  {r['raw'] / r[key]:5.2f}x floor")
    added = 1e6 / r["with"] - 1e6 / r["without"]
    print(f"  rules add {added:.1f} µs per DCC check ({r['without'] / r['with']:.2f}x the check without rules)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    report(f"bench/rules.py — cores {cores or 'all'}", measure(args.seconds))
    if hasattr(os, "sched_setaffinity") and len(cores) > 1:
        os.sched_setaffinity(0, {cores[0]})  # as `taskset -c 0` would
        report(f"bench/rules.py — one core ({cores[0]})", measure(args.seconds))


if __name__ == "__main__":
    main()
