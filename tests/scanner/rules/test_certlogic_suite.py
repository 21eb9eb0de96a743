"""The whole CertLogic specification test suite (232 assertions, vendored) through the evaluator."""

from __future__ import annotations

import pytest

from scanner.rules.certlogic import evaluate, to_json
from tests.helpers.certlogic import deep_equal, suite_assertions

ASSERTIONS = suite_assertions()


def test_the_vendored_suite_is_complete():
    assert len(ASSERTIONS) == 232
    assert len({a.id.split(":")[0] for a in ASSERTIONS}) == 14


@pytest.mark.parametrize("assertion", ASSERTIONS, ids=lambda a: a.id)
def test_specification_assertion(assertion):
    result = to_json(evaluate(assertion.expr, assertion.data))
    assert deep_equal(result, assertion.expected), (assertion.expr, assertion.data, result)


def test_deep_equal_is_strict_about_types():
    assert deep_equal(1, 1.0) and deep_equal([{"a": 1}], [{"a": 1.0}])
    assert not deep_equal(0, False) and not deep_equal("", None) and not deep_equal(1, "1")
    assert not deep_equal([1, 2], [2, 1]) and not deep_equal({"a": 1}, {"a": 1, "b": 2})
