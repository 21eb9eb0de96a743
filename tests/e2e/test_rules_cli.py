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


def test_sign_show_and_check_with_a_rules_list(world, tmp_path):
    from keys.hcc1 import CodeClaims, issue_code

    rl = tmp_path / "rl.json"
    r = checkpoint("rules", "sign-list", "--root", str(world.directory / "root.key"), "--version", "4",
                   "--issued-at", str(world.now - 60), "--out", str(rl))
    assert r.returncode == 0, r.stderr
    assert "rules list version 4: 12 rules" in r.stderr
    r = checkpoint("rules", "show", str(rl), "--anchor", str(world.anchor_path), "--json")
    shown = json.loads(r.stdout)
    assert shown["version"] == 4 and shown["country"] == "CN"
    assert shown["rule_sets"]["hcc1-transport"]["rules"] == ["HR-CN-0001"]
    r = checkpoint("rules", "show", str(rl), "--anchor", str(world.anchor_path))
    assert r.returncode == 0 and "set 3G — 3G: vaccinated, tested or recovered" in r.stdout

    old = issue_code(world.issuers["CN-SH"], CodeClaims(iss="CN-SH", iat=world.now - 13 * 3600,
                                                        exp=world.now + 3600, name="M*** D****"))
    base = ["check", "--json", "--anchor", str(world.anchor_path), "--trust-list", str(world.trust_list_path),
            "--at", str(world.now), "--profile", "transport"]
    with_rules = json.loads(checkpoint(*base, "--rules-list", str(rl), old).stdout)
    assert with_rules["verdict"] == "rules" and with_rules["admit"] is False
    assert with_rules["failed_rule"]["en"].startswith("Shanghai codes must")
    without = json.loads(checkpoint(*base, old).stdout)
    assert without["verdict"] == "ok" and without["failed_rule"] is None
    human = checkpoint(*base[:1], *base[2:], "--rules-list", str(rl), old)
    assert "DENY" in human.stdout and "Shanghai codes must" in human.stdout


def test_bad_rules_lists_and_rule_files_are_clear_refusals(world, tmp_path):
    rl = tmp_path / "rl.json"
    rl.write_text('{"protected": "e30", "payload": "e30", "signature": "AA"}', encoding="utf-8")
    r = checkpoint("check", "--anchor", str(world.anchor_path), "--trust-list", str(world.trust_list_path),
                   "--rules-list", str(rl), world.payloads["green"])
    assert r.returncode == 2 and r.stderr.startswith(f"checkpoint: error: rules list {rl}:") and not r.stdout
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"Identifier": "VR-CN-0001", "Logic": True}]), encoding="utf-8")
    r = checkpoint("rules", "sign-list", "--root", str(world.directory / "root.key"), "--version", "1",
                   "--rules", str(rules), "--out", str(tmp_path / "out.json"))
    assert r.returncode == 2 and "VR-CN-0001" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.json").exists()
    sets = tmp_path / "sets.json"
    sets.write_text("{", encoding="utf-8")
    r = checkpoint("rules", "sign-list", "--root", str(world.directory / "root.key"), "--version", "1",
                   "--sets", str(sets), "--out", "-")
    assert r.returncode == 2 and "rule sets file" in r.stderr and "not JSON" in r.stderr
