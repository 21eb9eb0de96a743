"""`checkpoint rules …`: CertLogic business rules from the command line.

Contract used by acceptance checks:
    checkpoint rules eval --batch FILE|-
        reads JSON lines {"expr": <CertLogic expression>, "data": <data>} ("data" defaults to null) and
        writes one line per input line, in order: {"result": <value>} or {"error": "<message>"}; a line
        that is not such an object gets an error line too, and the run goes on (exit 0). Blank lines
        are skipped. Date-times in a result are ISO strings, as JavaScript's JSON.stringify writes them.
    checkpoint rules eval EXPR [DATA]
        one expression on data given as JSON text; prints the result, or the error (exit 1).
    checkpoint rules sign-list --root KEY --version N [--rules FILE ...] [--sets FILE] [--value-sets DIR]
                               [--country CC] --out FILE|-
        a signed rules list (docs/format.md, "Rules list"); the shipped example sets without --rules/--sets.
    checkpoint rules show RL.json --anchor ROOT.pem [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn, TextIO

from keys.jsontypes import Json, JsonObject
from scanner.errors import CertLogicError, InputError


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str, what: str) -> Json:
    """JSON text as a value, or an `InputError` naming `what` (NaN and Infinity are not JSON)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise InputError(f"{what}: nested too deeply") from None
    except ValueError as e:
        raise InputError(f"{what}: not JSON ({e})") from None


def answer_line(line: str, number: int) -> JsonObject:
    """The answer to one batch line: {"result": …} or {"error": …}."""
    from scanner.rules.certlogic import evaluate, to_json

    try:
        request = parse_json(line, f"line {number}")
    except InputError as e:
        return {"error": str(e)}
    if not isinstance(request, dict) or "expr" not in request:
        return {"error": f'line {number}: expected an object {{"expr": …, "data": …}}'}
    try:
        return {"result": to_json(evaluate(request["expr"], request.get("data")))}
    except CertLogicError as e:
        return {"error": str(e)}


def run_batch(source: TextIO, out: TextIO) -> int:
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        answer = answer_line(line, number)
        try:
            text = json.dumps(answer, ensure_ascii=False, allow_nan=False)
        except (ValueError, RecursionError):
            text = json.dumps({"error": f"line {number}: the result is not representable as JSON"})
        # One flushed line per input, so a caller may wait for each answer before sending the next.
        out.write(text + "\n")
        out.flush()
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from scanner.rules.certlogic import evaluate, to_json

    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    if args.batch is not None:
        if args.expr is not None:
            raise InputError("give either --batch or an expression, not both")
        if args.batch == "-":
            return run_batch(sys.stdin, sys.stdout)
        try:
            with open(args.batch, encoding="utf-8") as source:
                return run_batch(source, sys.stdout)
        except OSError as e:
            raise InputError(f"cannot read {args.batch}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise InputError(f"{args.batch} is not UTF-8 text") from None
    if args.expr is None:
        raise InputError("give an expression, or --batch FILE|- for JSON lines")
    expr = parse_json(args.expr, "expression")
    data = parse_json(args.data, "data") if args.data is not None else None
    try:
        result = to_json(evaluate(expr, data))
    except CertLogicError as e:
        print(f"error: {e}")
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    rules = sub.add_parser("rules", help="CertLogic business rules: evaluate expressions, rule sets, rules lists")
    rs = rules.add_subparsers(dest="rules_command", metavar="ACTION")
    rs.required = True
    p = rs.add_parser("eval", help="evaluate CertLogic expressions",
                      description='Evaluate a CertLogic expression on data, or JSON lines {"expr", "data"} '
                                  'with --batch (one {"result"} or {"error"} line per input line).')
    p.add_argument("--batch", metavar="FILE", help='JSON lines to evaluate ("-" for stdin)')
    p.add_argument("expr", nargs="?", metavar="EXPR", help="a CertLogic expression as JSON text")
    p.add_argument("data", nargs="?", metavar="DATA", help="the data as JSON text (default null)")
    p.set_defaults(func=cmd_eval)
    register_list_commands(rs)


def _load_json_file(path: str, what: str) -> Json:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise InputError(f"{what} {path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} {path}: not UTF-8 text") from None
    return parse_json(text, f"{what} {path}")


def cmd_sign_list(args: argparse.Namespace) -> int:
    import os
    import time
    from pathlib import Path

    from keys.durable import atomic_write
    from keys.errors import KeyFileError
    from keys.keyfile import load_private_key
    from scanner.rules.ruleslist import sign_rules_list
    from scanner.rules.shipped import EXAMPLE_COUNTRY, example_rules
    from scanner.rules.valuesets import load_value_sets

    shipped_rules, shipped_sets = example_rules()
    rules: list[Json] = []
    for path in args.rules:
        doc = _load_json_file(path, "rules file")
        rules.extend(doc if isinstance(doc, list) else [doc])
    if not args.rules:
        rules = shipped_rules
    sets = _load_json_file(args.sets, "rule sets file") if args.sets else shipped_sets
    country = args.country or EXAMPLE_COUNTRY
    passphrase = None
    if args.passphrase_env:
        passphrase = os.environ.get(args.passphrase_env)
        if passphrase is None:
            raise KeyFileError(f"environment variable {args.passphrase_env} is not set")
    root = load_private_key(args.root, passphrase)
    issued = int(args.issued_at if args.issued_at is not None else time.time())
    if args.valid_days <= 0:
        raise InputError(f"--valid-days {args.valid_days}: must be at least 1")
    doc = sign_rules_list(root, version=args.version, issued_at=issued, next_update=issued + args.valid_days * 86400,
                          country=country, rules=rules, rule_sets=sets,
                          value_sets=load_value_sets(Path(args.value_sets) if args.value_sets else None).codes())
    text = json.dumps(doc, ensure_ascii=False)
    if args.out == "-":
        print(text)
    else:
        atomic_write(args.out, text + "\n")
        print(f"rules list version {args.version}: {len(rules)} rules, sets {', '.join(sorted(sets))} -> {args.out}",
              file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from keys.keyfile import load_public_key
    from scanner.rules.ruleslist import RulesStore

    store = RulesStore.from_file(args.list, [load_public_key(p) for p in args.anchor])
    assert store.current is not None
    rl, book = store.current, store.current.book
    if args.json:
        print(json.dumps({"version": rl.version, "issued_at": rl.issued_at, "next_update": rl.next_update,
                          "country": book.country,
                          "rule_sets": {n: {"title": s.title.to_json(), "rules": list(s.identifiers)}
                                        for n, s in book.rule_sets.items()},
                          "rules": [{"identifier": r.identifier, "version": r.version_text,
                                     "certificate_type": r.certificate_type, "type": r.type,
                                     "description": r.description.to_json()} for r in book.rules],
                          "value_sets": {k: len(v) for k, v in book.value_sets.items()}}, ensure_ascii=False))
        return 0
    print(f"rules list version {rl.version} for {book.country}: {len(book.rules)} rules, "
          f"{len(book.value_sets)} value sets")
    for name, s in book.rule_sets.items():
        print(f"  set {name} — {s.title.en} / {s.title.zh}: {', '.join(s.identifiers)}")
    for r in book.rules:
        print(f"  {r.identifier} {r.version_text} {r.certificate_type:<11} {r.descriptions['en']}")
    return 0


def register_list_commands(rs: argparse._SubParsersAction) -> None:
    p = rs.add_parser("sign-list", help="sign a rules list with the national root key",
                      description="Pack business rules (EU format), named rule sets and value sets into a rules "
                                  "list signed with the root key. Every rule is parsed and its Logic compiled "
                                  "first. Without --rules/--sets, the shipped example sets (3G, 2G, test-only, "
                                  "hcc1-transport).")
    p.add_argument("--root", required=True, help="root private key (PKCS#8 PEM)")
    p.add_argument("--passphrase-env", metavar="VAR", help="read the key passphrase from this variable")
    p.add_argument("--version", type=int, required=True, help="list version (devices refuse older ones)")
    p.add_argument("--rules", action="append", default=[], metavar="FILE",
                   help="JSON file with a rule or a list of rules; repeatable")
    p.add_argument("--sets", metavar="FILE", help='JSON rule sets {"NAME": {"title": {zh, en}, "rules": [ids]}}')
    p.add_argument("--value-sets", metavar="DIR", help="folder of EU value set files (default: the shipped ones)")
    p.add_argument("--country", metavar="CC", help="acceptance country of the rules (default CN)")
    p.add_argument("--issued-at", type=int, metavar="UNIX", help="issue time (default now)")
    p.add_argument("--valid-days", type=int, default=7, help="days until next_update (default 7)")
    p.add_argument("--out", required=True, metavar="FILE", help='output file ("-" for stdout)')
    p.set_defaults(func=cmd_sign_list)
    p = rs.add_parser("show", help="verify a rules list and list its sets and rules")
    p.add_argument("list", metavar="RL.json")
    p.add_argument("--anchor", action="append", required=True, metavar="ROOT.pem", help="pinned root public key")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_show)
