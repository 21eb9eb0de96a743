"""`checkpoint check`: verify codes from the command line, against given anchors, lists and time.

The argument contract is used by acceptance checks and must not change:
    checkpoint check --anchor ROOT.pem [--anchor ...] --trust-list TL.json [--status-list SL.json ...]
                     [--rules-list RL.json] [--at ISO8601|UNIX] [--max-code-age SECONDS] [--profile NAME] [--json]
                     (PAYLOAD ... | --image FILE ... | -)
A trust list that does not verify is fatal (exit 2, one line on stderr, no verdicts). A status list that
does not verify is reported on stderr and ignored. A rules list that does not verify is fatal too; with one,
the profile's rule sets are applied (verdict "rules", `failed_rule` in --json). Exit 0 when every code was
checked.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from scanner.cli import lasting
from scanner.cli.times import parse_instant
from scanner.errors import InputError

if TYPE_CHECKING:
    from scanner.checker import Checker
    from scanner.config import Settings
    from scanner.policy import Decision
    from scanner.rules.ruleslist import RulesStore


def add_trust_options(p: argparse.ArgumentParser) -> None:
    """The options that say what to trust and when: shared by `check` and `scan`."""
    g = p.add_argument_group("trust and time")
    g.add_argument("--config", metavar="FILE", help="settings file (anchors, data directory, profile)")
    g.add_argument("--anchor", action="append", default=[], metavar="ROOT.pem",
                   help="pinned national root public key (SPKI PEM); repeat for rotation")
    g.add_argument("--trust-list", metavar="TL.json", help="signed trust list (JWS JSON)")
    g.add_argument("--status-list", action="append", default=[], metavar="SL.json",
                   help="signed status list, applied in the order given; repeatable")
    g.add_argument("--rules-list", metavar="RL.json",
                   help="signed rules list: the profile's business rule sets are applied to verified codes")
    g.add_argument("--at", metavar="ISO8601|UNIX", help="evaluate at this time instead of now")
    g.add_argument("--max-code-age", type=int, metavar="SECONDS",
                   help="maximum age of a personal code (overrides the profile)")
    g.add_argument("--profile", metavar="NAME", help="venue profile (default: from config, else transport)")


def checker_from_args(args: argparse.Namespace) -> Checker:
    """Build a `Checker` from `add_trust_options` arguments, warning about refused status lists."""
    from keys.errors import KeysError, StatusListError
    from keys.keyfile import load_public_key
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore
    from scanner.checker import Checker
    from scanner.clock import Clock, FixedClock, SystemClock
    from scanner.policy import load_profile
    from scanner.profiles import DEFAULT_PROFILE
    from scanner.verify import VerifySettings

    settings: Settings | None = None
    if args.config:
        from scanner.config import load_settings

        settings = load_settings(args.config)
    # Without --config every setting is its default: the settings module (a quarter of the start-up
    # time of a one-code check) is not even loaded. tests/scanner/cli holds the defaults to Settings()'s.
    anchor_paths = args.anchor or (settings.trust.anchors if settings else [])
    if not anchor_paths:
        raise InputError("no trust anchor: give --anchor ROOT.pem (or trust.anchors in --config)")
    anchors = [load_public_key(p) for p in anchor_paths]

    status: StatusStore
    rules: RulesStore | None = None
    if args.trust_list:
        trust = TrustStore.from_file(args.trust_list, anchors)
        status = StatusStore.open(":memory:")
    elif settings is not None:
        from scanner.storage.stores import open_stores

        trust_settings = dataclasses.replace(settings.trust, anchors=anchor_paths)
        stores = open_stores(dataclasses.replace(settings, trust=trust_settings), visit_log=False)
        assert stores.trust is not None and stores.status is not None
        trust, status, rules = stores.trust, stores.status, stores.rules
        for problem in (trust.problem, rules.problem if rules else None):
            if problem:
                print(f"checkpoint: warning: {problem}", file=sys.stderr)
    else:
        raise InputError("no trust list: give --trust-list TL.json (or --config with a data directory)")

    # With --at every judgement made with a clock is made at that time, whether a status list's signing
    # key had retired included; without it, the system clock's.
    at = parse_instant(args.at, "--at") if args.at else None
    for path in args.status_list:
        try:
            status.apply_file(path, trust, source=path, now=at)
        except OSError as e:
            print(f"checkpoint: warning: status list {path}: cannot read: {e.strerror} (ignored)",
                  file=sys.stderr)
        except StatusListError as e:
            print(f"checkpoint: warning: {e} (ignored)", file=sys.stderr)
        except KeysError as e:
            print(f"checkpoint: warning: status list {path}: {e} (ignored)", file=sys.stderr)

    if args.rules_list:
        from scanner.rules.ruleslist import RulesStore

        # Like the trust list: a rules list that does not verify is fatal, never silently skipped.
        rules = RulesStore.from_file(args.rules_list, anchors)
    clock: Clock = FixedClock(at) if at is not None else SystemClock()
    if settings is None:
        profile = load_profile(args.profile or DEFAULT_PROFILE)
        max_age = args.max_code_age if args.max_code_age is not None else 0
        verify, region = VerifySettings(), ""
    else:
        profile = load_profile(args.profile or settings.venue.profile, settings.profiles)
        max_age = args.max_code_age if args.max_code_age is not None else settings.venue.max_code_age
        verify = VerifySettings(clock_skew=settings.verify.clock_skew, status_grace=settings.verify.status_grace)
        region = settings.venue.region
    if max_age < 0:
        raise InputError(f"--max-code-age {max_age}: must be 0 (profile default) or more seconds")
    return Checker(trust=trust, status=status, profile=profile, settings=verify, clock=clock,
                   max_code_age=max_age, rules=rules, region=region)


_MARKS = {"pass": "✓", "stop": "✕", "alert": "✕!", "check": "?"}


def _shown(text: str) -> str:
    """Text a code carries, for a terminal: a control or format character (an escape sequence, a carriage
    return, a bidirectional override) would let a code, even a forged one, rewrite the line; each shows as
    U+FFFD."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else "\ufffd" for c in text)


def format_line(d: Decision) -> str:
    """One human-readable line per decision."""
    r = d.result
    # Enum members' `_value_`: `.value` is a property written in Python, read up to four times a line.
    verdict = r.verdict._value_
    parts = [f"{_MARKS[d.tone._value_]} {'ADMIT' if d.admit else 'DENY '}",
             f"{verdict}/{r.status._value_}" if r.status else verdict]
    if r.issuer:
        parts.append(_shown(r.issuer) + (f" ({r.issuer_name.en})" if r.issuer_name and r.issuer_name.en != r.issuer
                                         else ""))
    if r.name:
        parts.append(_shown(r.name))
    if r.code_type:
        parts.append(r.code_type._value_)
    if r.guardian:
        parts.append(f"shown by {_shown(r.guardian.name)} ({r.guardian.relation_name})")
    text = "  ".join(parts) + f" — {d.headline.en}"
    if d.reason:
        text += f": {d.reason.en}"
    return text


def _stdin_batches() -> Iterator[list[str]]:
    """The lines of stdin as they arrive, a list per chunk read: a batch streams through, and a program
    feeding one line and waiting for its verdict gets it (`run` writes and flushes each chunk's answers
    before the next read). Lines end at "\n", "\r" or "\r\n", as `bytes.splitlines` ends them."""
    buf = sys.stdin.buffer
    read = buf.read1 if hasattr(buf, "read1") else buf.read
    rest = b""
    while chunk := read(1 << 16):
        data = rest + chunk
        end = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        rest = data[end:]
        if end:
            # Decoded once per chunk, not per line: a line break is ASCII, so no invalid sequence spans
            # one and each line decodes as it would alone (tests/scanner/cli holds the two equal).
            text = data[:end].decode("utf-8", errors="replace")
            yield text.replace("\r\n", "\n").replace("\r", "\n").split("\n")[:-1]
    if rest:
        yield [rest.decode("utf-8", errors="replace")]


def _batches(args: argparse.Namespace) -> Iterator[list[tuple[str, str | None]]]:
    """(payload, error) pairs from arguments, stdin (a list per chunk read) or images; an error means
    nothing to check."""
    if args.image:
        from scanner.qr.images import read_image_payloads

        out: list[tuple[str, str | None]] = []
        for path in args.image:
            try:
                found = read_image_payloads(path)
            except InputError as e:
                out.append((path, str(e)))
                continue
            if not found:
                out.append((path, f"{path}: no QR code found"))
            out.extend((p, None) for p in found)
        yield out
    elif args.payload == ["-"]:
        for lines in _stdin_batches():
            yield [(line, None) for line in lines if line.strip()]
    elif not args.payload:
        raise InputError("nothing to check: give PAYLOAD ..., --image FILE ... or - for stdin")
    else:
        yield [(p, None) for p in args.payload]


def run(args: argparse.Namespace) -> int:
    if args.image and args.payload:
        raise InputError("give either payloads or --image files, not both")
    with lasting():  # the checker's modules, keys and lists
        checker = checker_from_args(args)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    failed = 0
    line = format_line
    if args.json:
        from scanner.cli.jsonline import json_line

        line = json_line
    check = checker.check
    for batch in _batches(args):
        out = []
        for payload, error in batch:
            if error is not None:
                failed += 1
                print(f"checkpoint: error: {error}", file=sys.stderr)
                continue
            out.append(line(check(payload)))
        # One write and one flush per batch, whatever the stream's buffering (PYTHONUNBUFFERED made a
        # write a system call per line), before the next read of stdin may wait.
        if out:
            out.append("")
            sys.stdout.write("\n".join(out))
        sys.stdout.flush()
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="verify health codes offline",
                       description="Verify health codes against pinned anchors, a trust list and status "
                                   "lists, and show the venue's decision.")
    add_trust_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object per line per code")
    p.add_argument("--image", action="append", default=[], metavar="FILE",
                   help="read QR codes from an image file; repeatable")
    p.add_argument("payload", nargs="*", metavar="PAYLOAD", help="code text, or - to read lines from stdin")
    p.set_defaults(func=run)
