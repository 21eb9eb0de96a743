"""CertLogic, the rule language of EU DCC business rules: a checked, compiled evaluator. Pure, no I/O.

CertLogic (specification 1.3.3, github.com/ehn-dcc-development/dgc-business-rules) is a subset of
JsonLogic plus date-time operations. `compile_expression` checks a whole expression first (unknown
operators, wrong operand counts, literal arguments of the wrong type, nesting too deep) and turns it into
a function of the data; `evaluate(expr, data)` does both. Every problem, at either stage, is a
`CertLogicError` with a message; nothing else escapes, whatever JSON comes in.

Semantics as the specification and its test suite give them, including its "patched" proposals:
`in` with a `null` right-hand side is `false`, and `reduce` gives its lambda `{"current", "accumulator",
"data"}` with `data` the outer data. Truthy and falsy are CertLogic's narrower notions (a date-time is
neither); `and` returns the deciding operand itself; numbers must be integers where the specification
says so (JSON `2.0` is the integer 2); `===` is equality without coercion (arrays and objects compare by
content). `var` takes a dotted path only: the JsonLogic default value is not part of CertLogic.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from keys.jsontypes import Json
from scanner.errors import CertLogicError
from scanner.rules.datetimes import TIME_UNITS, DateTime, dcc_date_of_birth, parse_date_time, plus_time

Evaluator = Callable[[Json], Json]

MAX_DEPTH = 64
COMPARISONS: dict[str, Callable[[Json, Json], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}
# The date-time comparisons are the integer ones on instants.
DATE_COMPARISONS = {"before": "<", "after": ">", "not-after": "<=", "not-before": ">="}
OPERATORS = frozenset({"var", "if", "and", "!", "===", "in", "+", "plusTime", "reduce", "extractFromUVCI",
                       "dccDateOfBirth", *COMPARISONS, *DATE_COMPARISONS})
UVCI_PREFIX = "URN:UVCI:"
UVCI_SEPARATORS = str.maketrans({"#": "/", ":": "/"})


def is_int(value: Json) -> bool:
    """An integer as CertLogic (and JavaScript's `Number.isInteger`) sees it: 3 and 3.0, never `true`."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def truthiness(value: Json) -> bool | None:
    """True if truthy, False if falsy, None for a value that is neither (a date-time, a fraction…)."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, str | list | dict):
        return len(value) > 0
    if is_int(value):
        return value != 0
    return None


def strict_equal(a: Json, b: Json) -> bool:
    """`===`: no coercion between types; 1 equals 1.0; arrays and objects by content."""
    if is_int(a) and is_int(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def to_json(value: Json) -> Json:
    """A result as plain JSON: date-times as JavaScript's `JSON.stringify` writes them, ints as ints."""
    if isinstance(value, DateTime):
        return value.iso()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def _describe(value: Json) -> str:
    if isinstance(value, DateTime):
        return f"date-time {value.iso()}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _accessor(path: str) -> Evaluator:
    """`var`: drill into the data along a dotted path; a missing value, or `null` on the way, is `null`.
    The path is split, and its array indices parsed, once."""
    if path == "":
        return lambda data: data
    steps = [(f, int(f) if f.isdigit() and f.isascii() else None) for f in path.split(".")]

    def run(data: Json) -> Json:
        for key, index in steps:
            if isinstance(data, dict):
                data = data.get(key)
            elif isinstance(data, list) and index is not None:
                data = data[index] if index < len(data) else None
            else:
                return None
        return data
    return run


def compile_expression(expr: Json) -> Evaluator:
    """Check a whole CertLogic expression and return it as a function of the data."""
    run = _compile(expr, 0)

    def guarded(data: Json) -> Json:
        try:
            return run(data)
        except RecursionError:
            # Comparing or walking data nested thousands deep; the expression itself is bounded.
            raise CertLogicError("data nested too deeply") from None
    return guarded


def evaluate(expr: Json, data: Json) -> Json:
    """Evaluate a CertLogic expression on data. Raises `CertLogicError`, and only that, on any problem."""
    return compile_expression(expr)(data)


def _compile(expr: Json, depth: int) -> Evaluator:
    if depth > MAX_DEPTH:
        raise CertLogicError(f"expression nested deeper than {MAX_DEPTH} levels")
    if isinstance(expr, bool | str):
        return lambda _data: expr
    if is_int(expr):
        literal = int(expr)
        return lambda _data: literal
    if isinstance(expr, list):
        items = [_compile(e, depth + 1) for e in expr]
        return lambda data: [item(data) for item in items]
    if isinstance(expr, dict):
        return _compile_operation(expr, depth)
    raise CertLogicError(f"invalid CertLogic expression: {_describe(expr)} (null, fractions and "
                         "non-JSON values are not literals)")


def _compile_operation(expr: dict[Json, Json], depth: int) -> Evaluator:
    if len(expr) != 1:
        raise CertLogicError(f"an operation object has exactly one key, not {len(expr)}")
    ((op, args),) = expr.items()
    if op not in OPERATORS:
        raise CertLogicError(f"unknown operator {_describe(op)}")
    if op == "var":
        if not isinstance(args, str):
            raise CertLogicError('"var" takes a path string ({"var": "a.b.0"}); CertLogic has no default value')
        return _accessor(args)
    if not isinstance(args, list) or not args:
        raise CertLogicError(f'"{op}" is not of the form {{"{op}": [operands...]}}')
    n = len(args)

    def arity(low: int, high: int | None) -> None:
        if n < low or (high is not None and n > high):
            count = f"at least {low}" if high is None else str(low) if low == high else f"{low} to {high}"
            raise CertLogicError(f'"{op}" takes {count} operands, not {n}')

    if op in ("plusTime", "extractFromUVCI"):
        arity(*((3, 3) if op == "plusTime" else (2, 2)))
        if not is_int(args[1]):
            raise CertLogicError(f'the second operand of "{op}" must be a literal integer')
        if op == "plusTime":
            if args[2] not in TIME_UNITS:
                raise CertLogicError(f'the unit of "plusTime" must be one of {", ".join(TIME_UNITS)}')
            return _plus_time(_compile(args[0], depth + 1), int(args[1]), args[2])
        return _extract_from_uvci(_compile(args[0], depth + 1), int(args[1]))
    if op == "and":
        arity(2, None)
    elif op in COMPARISONS or op in DATE_COMPARISONS:
        arity(2, 3)
    elif op in ("===", "in", "+"):
        arity(2, 2)
    elif op in ("!", "dccDateOfBirth"):
        arity(1, 1)
    else:  # if, reduce
        arity(3, 3)
    operands = [_compile(a, depth + 1) for a in args]
    return _BUILDERS[op](op, operands)


def _decide(value: Json, what: str) -> bool:
    decided = truthiness(value)
    if decided is None:
        raise CertLogicError(f"{what} is neither truthy nor falsy: {_describe(value)}")
    return decided


def _if(_op: str, operands: list[Evaluator]) -> Evaluator:
    guard, then, otherwise = operands

    def run(data: Json) -> Json:
        return then(data) if _decide(guard(data), 'the "if" guard') else otherwise(data)
    return run


def _and(_op: str, operands: list[Evaluator]) -> Evaluator:
    def run(data: Json) -> Json:
        value: Json = True
        for operand in operands:
            if not _decide(value, 'an "and" operand'):
                return value
            value = operand(data)
        return value
    return run


def _not(_op: str, operands: list[Evaluator]) -> Evaluator:
    (operand,) = operands

    def run(data: Json) -> bool:
        return not _decide(operand(data), 'the operand of "!"')
    return run


def _equal(_op: str, operands: list[Evaluator]) -> Evaluator:
    left, right = operands
    return lambda data: strict_equal(left(data), right(data))


def _in(_op: str, operands: list[Evaluator]) -> Evaluator:
    item, collection = operands

    def run(data: Json) -> bool:
        needle, haystack = item(data), collection(data)
        if haystack is None:
            return False
        if not isinstance(haystack, list):
            raise CertLogicError(f'the right-hand side of "in" must be an array, not {_describe(haystack)}')
        return any(strict_equal(needle, h) for h in haystack)
    return run


def _plus(_op: str, operands: list[Evaluator]) -> Evaluator:
    left, right = operands

    def run(data: Json) -> int:
        a, b = left(data), right(data)
        if not (is_int(a) and is_int(b)):
            raise CertLogicError(f'the operands of "+" must be integers, not {_describe(a)} and {_describe(b)}')
        return int(a) + int(b)
    return run


def _compare(op: str, operands: list[Evaluator]) -> Evaluator:
    dates = op in DATE_COMPARISONS
    check: Callable[[Json], bool] = (lambda v: isinstance(v, DateTime)) if dates else is_int
    kind = "date-times" if dates else "integers"
    compare = COMPARISONS[DATE_COMPARISONS.get(op, op)]

    def run(data: Json) -> bool:
        values = [operand(data) for operand in operands]
        for v in values:
            if not check(v):
                raise CertLogicError(f'the operands of "{op}" must be {kind}, not {_describe(v)}')
        return all(compare(a, b) for a, b in pairwise(values))
    return run


def _plus_time(operand: Evaluator, amount: int, unit: str) -> Evaluator:
    def run(data: Json) -> DateTime:
        value = operand(data)
        if not isinstance(value, str):
            raise CertLogicError(f'the first operand of "plusTime" must be a string, not {_describe(value)}')
        return plus_time(parse_date_time(value), amount, unit)
    return run


def _date_of_birth(_op: str, operands: list[Evaluator]) -> Evaluator:
    (operand,) = operands

    def run(data: Json) -> DateTime:
        value = operand(data)
        if not isinstance(value, str):
            raise CertLogicError(f'the operand of "dccDateOfBirth" must be a string, not {_describe(value)}')
        return dcc_date_of_birth(value)
    return run


def _reduce(_op: str, operands: list[Evaluator]) -> Evaluator:
    collection, lam, initial = operands

    def run(data: Json) -> Json:
        items = collection(data)
        accumulator = initial(data)
        if items is None:
            return accumulator
        if not isinstance(items, list):
            raise CertLogicError(f'the operand of "reduce" must be an array or null, not {_describe(items)}')
        for current in items:
            accumulator = lam({"current": current, "accumulator": accumulator, "data": data})
        return accumulator
    return run


def extract_from_uvci(uvci: str, index: int) -> str | None:
    """Fragment `index` of a UCI split on '/', '#' and ':', after an optional "URN:UVCI:" prefix."""
    if index < 0:
        return None
    body = uvci.removeprefix(UVCI_PREFIX)
    fragments = body.translate(UVCI_SEPARATORS).split("/")
    return fragments[index] if index < len(fragments) else None


def _extract_from_uvci(operand: Evaluator, index: int) -> Evaluator:
    def run(data: Json) -> str | None:
        value = operand(data)
        if value is None:
            return None
        if not isinstance(value, str):
            raise CertLogicError(f'the operand of "extractFromUVCI" must be a string or null, not {_describe(value)}')
        return extract_from_uvci(value, index)
    return run


_BUILDERS: dict[str, Callable[[str, list[Evaluator]], Evaluator]] = {
    "if": _if, "and": _and, "!": _not, "===": _equal, "in": _in, "+": _plus, "reduce": _reduce,
    "dccDateOfBirth": _date_of_birth,
    **{op: _compare for op in (*COMPARISONS, *DATE_COMPARISONS)},
}
