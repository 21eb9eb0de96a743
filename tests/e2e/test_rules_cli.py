"""`checkpoint rules eval` as a subprocess: the JSON-lines contract on the whole CertLogic suite and bad lines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers.certlogic import deep_equal, suite_assertions

EXE = shutil.which("checkpoint", path=str(Path(sys.executable).parent)) or "checkpoint"


def checkpoint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_batch_answers_every_specification_assertion_in_order():
    assertions = suite_assertions()
    lines = "".join(json.dumps({"expr": a.expr, "data": a.data}) + "\n" for a in assertions)
    r = checkpoint("rules", "eval", "--batch", "-", stdin=lines)
    assert r.returncode == 0, r.stderr
    answers = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(answers) == len(assertions) == 232
    failed = [a.id for a, answer in zip(assertions, answers, strict=True)
              if "result" not in answer or not deep_equal(answer["result"], a.expected)]
    assert failed == []


def test_bad_lines_get_error_lines_and_the_run_goes_on(tmp_path):
    lines = [
        '{"expr": {"+": [1, 2]}}',
        "not json",
        "",
        '{"expr": {"if": [true, 1]}, "data": null}',
        '[1, 2]',
        '{"expr": 1, "data": NaN}',
        '{"expr": {"plusTime": [{"var": "d"}, 1, "month"]}, "data": {"d": "2021-01-31"}}',
        '{"expr": {"var": "x"}, "data": {"x": "中文"}}',
        "[" * 5000 + "]" * 5000,
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = checkpoint("rules", "eval", "--batch", str(batch))
    assert r.returncode == 0, r.stderr
    answers = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(answers) == 8
    assert answers[0] == {"result": 3}
    assert answers[1]["error"].startswith("line 2: not JSON")
    assert answers[2] == {"error": '"if" takes 3 operands, not 2'}
    assert answers[3]["error"].startswith("line 5: expected an object")
    assert answers[4]["error"] == "line 6: not JSON (NaN is not JSON)"
    assert answers[5] == {"result": "2021-03-03T00:00:00.000Z"}
    assert answers[6] == {"result": "中文"}
    assert answers[7]["error"] == "line 9: nested too deeply"


def test_single_expression_mode_and_usage_errors(tmp_path):
    r = checkpoint("rules", "eval", '{"in": [{"var": "c"}, ["DE", "FR"]]}', '{"c": "FR"}')
    assert (r.returncode, r.stdout) == (0, "true\n")
    r = checkpoint("rules", "eval", '{"!": [{"plusTime": ["2021", 0, "day"]}]}')
    assert r.returncode == 1 and "neither truthy nor falsy" in r.stdout
    r = checkpoint("rules", "eval", "{oops")
    assert r.returncode == 2 and r.stderr.startswith("checkpoint: error: expression: not JSON")
    r = checkpoint("rules", "eval", "--batch", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "cannot read" in r.stderr and "Traceback" not in r.stderr
