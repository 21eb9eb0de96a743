"""`checkpoint rules …`: CertLogic business rules from the command line.

Contract used by acceptance checks:
    checkpoint rules eval --batch FILE|-
        reads JSON lines {"expr": <CertLogic expression>, "data": <data>} ("data" defaults to null) and
        writes one line per input line, in order: {"result": <value>} or {"error": "<message>"}; a line
        that is not such an object gets an error line too, and the run goes on (exit 0). Blank lines
        are skipped. Date-times in a result are ISO strings, as JavaScript's JSON.stringify writes them.
    checkpoint rules eval EXPR [DATA]
        one expression on data given as JSON text; prints the result, or the error (exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from scanner.errors import CertLogicError, InputError


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str, what: str) -> Any:
    """JSON text as a value, or an `InputError` naming `what` (NaN and Infinity are not JSON)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise InputError(f"{what}: nested too deeply") from None
    except ValueError as e:
        raise InputError(f"{what}: not JSON ({e})") from None


def answer_line(line: str, number: int) -> dict[str, Any]:
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
