"""The CertLogic evaluator beyond the specification suite: refusals, date-time arithmetic, and fuzzing.

Hypothesis feeds arbitrary JSON and grammar-shaped expressions: the evaluator answers with a JSON value
or a `CertLogicError`, never anything else.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.errors import CertLogicError, InputError
from scanner.rules.certlogic import compile_expression, evaluate, extract_from_uvci, to_json, truthiness
from scanner.rules.datetimes import DateTime, parse_date_time, plus_time


def iso(text: str, amount: int = 0, unit: str = "day") -> str:
    return to_json(evaluate({"plusTime": [text, amount, unit]}, None))


@pytest.mark.parametrize("text, amount, unit, expected", [
    ("2020-02-29", 1, "day", "2020-03-01T00:00:00.000Z"),
    ("2020-02-29", 1, "month", "2020-03-29T00:00:00.000Z"),
    ("2020-02-29", 1, "year", "2021-03-01T00:00:00.000Z"),
    ("2021-01-31", 1, "month", "2021-03-03T00:00:00.000Z"),     # Date.setUTCMonth rolls the day over
    ("2021-03-31", -1, "month", "2021-03-03T00:00:00.000Z"),
    ("2021-12-15", 1, "month", "2022-01-15T00:00:00.000Z"),
    ("2021-01-15", -13, "month", "2019-12-15T00:00:00.000Z"),
    ("2021-06-01T10:00:00+02:00", 40, "hour", "2021-06-03T00:00:00.000Z"),
    ("2021-06-01T00:00:00-1", 0, "hour", "2021-06-01T01:00:00.000Z"),
    ("2021-06-01T00:00:00+130", 0, "hour", "2021-05-31T22:30:00.000Z"),
    ("2021-06-01T00:00:00+0130", 0, "hour", "2021-05-31T22:30:00.000Z"),
    ("2021-06-01T00:00:00+1:30", 0, "hour", "2021-05-31T22:30:00.000Z"),
    ("2021-06-01T00:00:00.123456789Z", 0, "hour", "2021-06-01T00:00:00.123Z"),   # cut, not rounded
    ("2021-06-01T00:00:00.9", 0, "hour", "2021-06-01T00:00:00.900Z"),
    ("2021", 0, "day", "2021-12-31T00:00:00.000Z"),
    ("2024-02", 0, "day", "2024-02-29T00:00:00.000Z"),
    ("2021-03-28", 1, "day", "2021-03-29T00:00:00.000Z"),     # DST changes nothing: UTC throughout
])
def test_plus_time_follows_javascript_date(text, amount, unit, expected):
    assert iso(text, amount, unit) == expected


def test_date_of_birth_is_the_last_day_it_could_be():
    dob = {"dccDateOfBirth": [{"var": "dob"}]}
    assert to_json(evaluate(dob, {"dob": "1990"})) == "1990-12-31T00:00:00.000Z"
    assert to_json(evaluate(dob, {"dob": "1990-02"})) == "1990-02-28T00:00:00.000Z"
    assert to_json(evaluate(dob, {"dob": "1990-02-03"})) == "1990-02-03T00:00:00.000Z"
    with pytest.raises(CertLogicError, match="allowed format"):
        evaluate(dob, {"dob": ""})


@pytest.mark.parametrize("text", ["2021-02-30", "2022-13", "2021-06-01T24:00:00Z", "2021-06-01T00:00:00+2400",
                                  "21-06-01", "2021-06-01T00:00", "2021-06-01 00:00:00", "２０２１", "2021-06-01Z"])
def test_impossible_or_unlisted_date_times_are_errors(text):
    with pytest.raises(CertLogicError):
        parse_date_time(text)


def test_date_times_beyond_javascript_range_are_errors_not_overflows():
    with pytest.raises(CertLogicError, match="out of range"):
        evaluate({"plusTime": ["2021-01-01", 10**12, "year"]}, None)
    far = plus_time(parse_date_time("2021-01-01"), -2100 * 12, "month")
    assert far.iso() == "-000079-01-01T00:00:00.000Z"
    assert DateTime(0).iso() == "1970-01-01T00:00:00.000Z"


@pytest.mark.parametrize("expr, why", [
    (None, "invalid"), (1.5, "invalid"), ({"a": [1], "b": [2]}, "exactly one key"), ({"nope": [1]}, "unknown"),
    ({"var": ["a", 0]}, "no default"), ({"var": 1}, "path string"), ({"if": [True, 1]}, "takes 3"),
    ({"and": [True]}, "at least 2"), ({"===": [1, 2, 3]}, "takes 2"), ({"<": [1]}, "2 to 3"),
    ({"!": []}, "not of the form"), ({"!": True}, "not of the form"),
    ({"plusTime": ["2021", {"var": "n"}, "day"]}, "literal integer"), ({"plusTime": ["2021", 1, "week"]}, "unit"),
    ({"extractFromUVCI": [{"var": ""}, "1"]}, "literal integer"),
    # Checked before evaluating: the invalid branch is never reached, and still refused.
    ({"if": [True, 1, {"bogus": [1]}]}, "unknown"), ({"and": [False, {"var": None}]}, "path"),
])
def test_invalid_expressions_are_refused_before_evaluation(expr, why):
    with pytest.raises(CertLogicError, match=why):
        compile_expression(expr)


@pytest.mark.parametrize("expr, data, why", [
    ({"if": [{"var": ""}, 1, 2]}, 0.5, "neither truthy nor falsy"),
    ({"!": [{"plusTime": ["2021", 0, "day"]}]}, None, "neither truthy nor falsy"),
    ({"and": [{"plusTime": ["2021", 0, "day"]}, True]}, None, "neither truthy nor falsy"),
    ({"in": [1, {"var": ""}]}, "abc", "must be an array"),
    ({"+": [1, {"var": ""}]}, "1", "integers"), ({"+": [1, {"var": ""}]}, True, "integers"),
    ({"<": [1, {"var": ""}]}, 1.5, "integers"),
    ({"after": [{"plusTime": ["2021", 0, "day"]}, "2021"]}, None, "date-times"),
    ({"plusTime": [{"var": ""}, 0, "day"]}, 5, "string"),
    ({"reduce": [{"var": ""}, 1, 0]}, {"a": 1}, "array or null"),
    ({"extractFromUVCI": [{"var": ""}, 0]}, 7, "string or null"),
])
def test_type_mismatches_at_run_time_are_errors(expr, data, why):
    with pytest.raises(CertLogicError, match=why):
        evaluate(expr, data)


def test_values_and_equality():
    assert evaluate({"+": [{"var": "a"}, 2]}, {"a": 1.0}) == 3 and type(evaluate({"+": [1.0, 2]}, None)) is int
    assert evaluate({"===": [{"var": "x"}, {"var": "y"}]}, {"x": [1, {"a": "b"}], "y": [1.0, {"a": "b"}]}) is True
    assert evaluate({"===": [{"var": "x"}, {"var": "y"}]}, {"x": [1, {"a": "b"}], "y": [1, {"a": "c"}]}) is False
    assert evaluate({"===": [True, 1]}, None) is False and evaluate({"===": [0, False]}, None) is False
    assert evaluate({"in": [1, {"var": ""}]}, [True, 1.0]) is True
    assert evaluate({"in": [True, {"var": ""}]}, [1]) is False
    assert evaluate({"var": "a.01"}, {"a": {"01": "key"}}) == "key"
    assert evaluate({"var": "a.-1"}, {"a": [1]}) is None and evaluate({"var": "a.b"}, {"a": "text"}) is None
    assert [truthiness(v) for v in (0.0, 2.0, 0.5, {}, {"a": None})] == [False, True, None, False, True]
    lam = {"+": [{"var": "accumulator"}, {"var": "data.step"}]}
    assert evaluate({"reduce": [{"var": "xs"}, lam, 100]}, {"xs": [1, 2, 3], "step": 5}) == 115
    assert evaluate({"reduce": [{"var": "xs"}, lam, 100]}, {"step": 5}) == 100


def test_extract_from_uvci():
    assert extract_from_uvci("URN:UVCI:01:SE:EHM/V12907267LAJW#E", 2) == "EHM"
    assert extract_from_uvci("urn:uvci:01:SE", 0) == "urn"     # the prefix is matched exactly
    assert extract_from_uvci("01:SE", -1) is None and extract_from_uvci("01:SE", 2) is None


def test_the_error_family_is_bad_input():
    assert issubclass(CertLogicError, InputError)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=25,
)
OPS = ["var", "if", "and", "!", "===", "in", "+", "<", ">", "<=", ">=", "after", "before", "not-after",
       "not-before", "plusTime", "reduce", "extractFromUVCI", "dccDateOfBirth"]
DATES = st.sampled_from(["2021", "2021-06", "2021-06-01", "2021-06-01T12:00:00Z", "2021-06-01T12:00:00.5+02:00",
                         "2021-02-30", "", "x"])
LEAVES = (st.booleans() | st.integers(-5, 5) | DATES | st.sampled_from(["day", "hour", "month", "year"])
          | st.builds(lambda p: {"var": p}, st.sampled_from(["", "a", "a.0", "b", "current", "accumulator", "data.a"])))
EXPRESSIONS = st.recursive(
    LEAVES,
    lambda children: st.builds(lambda op, args: {op: args}, st.sampled_from(OPS), st.lists(children, max_size=4))
    | st.lists(children, max_size=3),
    max_leaves=20,
)
DATA = st.fixed_dictionaries({}, optional={"a": JSON | DATES, "b": st.lists(st.integers() | DATES, max_size=3)})


def _answer(expr, data):
    try:
        result = to_json(evaluate(expr, data))
    except CertLogicError as e:
        assert str(e)
        return "error"
    json.dumps(result, allow_nan=False)
    return "result"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON, JSON)
def test_arbitrary_json_gives_a_result_or_an_error(expr, data):
    _answer(expr, data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, DATA)
def test_grammar_shaped_expressions_give_a_result_or_an_error(expr, data):
    _answer(expr, data)


def test_deep_nesting_is_an_error_not_a_crash():
    expr: object = 1
    for _ in range(5000):
        expr = {"!": [expr]}
    with pytest.raises(CertLogicError, match="nested deeper"):
        evaluate(expr, None)
    data: object = 1
    for _ in range(5000):
        data = [data]
    with pytest.raises(CertLogicError, match="nested too deeply"):
        evaluate({"===": [{"var": ""}, {"var": ""}]}, data)
