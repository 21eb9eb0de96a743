"""Business rules on real signed DCCs: the Checker admits one that passes the venue's rule sets and refuses
one that fails with the rule's words; `checkpoint check --rules-list` says the same."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from keys.dcc import payload_recovery, payload_test, payload_vaccination
from scanner.checker import Checker
from scanner.clock import FixedClock
from scanner.policy import Tone, load_profile
from scanner.rules.ruleslist import RulesStore
from scanner.rules.shipped import sign_example_rules_list
from scanner.verify import Verdict
from tests.helpers.dcc import DAY, NOW, DccWorld, code

HOUR = 3600
# NOW is 2023-11-14T22:13:20Z; the doses and tests below are dated relative to it.
DOSE = "2023-09-01"
EXE = shutil.which("checkpoint", path=str(Path(sys.executable).parent)) or "checkpoint"


@pytest.fixture(scope="module")
def world():
    w = DccWorld()
    w.add("DE")
    return w


@pytest.fixture(scope="module")
def rules(world):
    doc = sign_example_rules_list(world.root, version=1, issued_at=NOW - DAY, next_update=NOW + 7 * DAY)
    return RulesStore.from_document(doc, [world.root.public_key()])


def checker(world, rules, profile):
    return Checker(world.trust(), None, load_profile(profile), clock=FixedClock(NOW), rules=rules)


def iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vaccination(**kw):
    return payload_vaccination("DE", "URN:UVCI:01:DE:V#1", date=DOSE, **kw)


def pcr(hours_ago: float, **kw):
    return payload_test("DE", "URN:UVCI:01:DE:T#1", sample_time=iso(NOW - hours_ago * HOUR), **kw)


def test_a_valid_vaccination_passes_3g_and_an_incomplete_one_is_refused_with_the_rules_words(world, rules):
    transport = checker(world, rules, "transport")
    ok = transport.check(code(world.signers[0], vaccination()))
    assert ok.admit and ok.result.verdict is Verdict.OK and ok.result.failed_rule is None
    refused = transport.check(code(world.signers[0], vaccination(dose=1, doses=2)))
    assert refused.result.verdict is Verdict.RULES and not refused.admit and refused.tone is Tone.STOP
    assert refused.reason is not None and refused.reason.zh == "疫苗须已全程接种"
    assert refused.reason.en == "The vaccination course must be complete"
    assert refused.result.dcc is not None and refused.result.dcc.type == "vaccination"   # still shown
    assert refused.to_json()["failed_rule"]["en"] == "The vaccination course must be complete"


def test_tests_by_venue_3g_takes_them_2g_refuses_them_the_hospital_wants_only_them(world, rules):
    fresh = code(world.signers[0], pcr(10))
    assert checker(world, rules, "transport").check(fresh).admit
    mall = checker(world, rules, "mall").check(fresh)
    assert mall.outcome == "rules" and mall.reason is not None and "not accepted here" in mall.reason.en
    assert checker(world, rules, "hospital").check(fresh).admit
    hospital_vacc = checker(world, rules, "hospital").check(code(world.signers[0], vaccination()))
    assert hospital_vacc.outcome == "rules" and hospital_vacc.reason.en == "Only a negative test is accepted here"
    old = checker(world, rules, "transport").check(code(world.signers[0], pcr(80)))
    assert old.outcome == "rules" and "72 hours" in old.reason.en
    positive = checker(world, rules, "hospital").check(code(world.signers[0], pcr(2, result="260373001")))
    assert positive.outcome == "rules" and positive.reason.en.startswith("The test result must be negative")


def test_recovery_and_every_failure_listed_in_reasons(world, rules):
    valid = payload_recovery("DE", "URN:UVCI:01:DE:R#1", first_positive="2023-10-01", valid_from="2023-10-12",
                             valid_until="2024-03-28")
    assert checker(world, rules, "transport").check(code(world.signers[0], valid)).admit
    lapsed = payload_recovery("DE", "URN:UVCI:01:DE:R#2", first_positive="2023-01-01", valid_from="2023-01-12",
                              valid_until="2023-06-28")
    d = checker(world, rules, "transport").check(code(world.signers[0], lapsed))
    assert d.outcome == "rules" and d.result.reasons == (
        "rule RR-CN-0001 1.0.0 failed: A recovery certificate counts only within its validity dates",)
    many = checker(world, rules, "transport").check(code(world.signers[0], pcr(80, result="260373001")))
    assert [r.split(" ")[1] for r in many.result.reasons] == ["TR-CN-0001", "TR-CN-0002"]
    assert many.reason is not None and many.reason.en.startswith("The test result must be negative")


def test_rules_do_not_touch_a_dcc_that_failed_verification_or_a_device_without_rules(world, rules):
    other = DccWorld()
    stranger = other.add("FR")
    d = checker(world, rules, "transport").check(code(stranger, vaccination(dose=1)))
    assert d.result.verdict is Verdict.UNKNOWN_KEY and d.result.failed_rule is None
    no_rules = Checker(world.trust(), None, load_profile("transport"), clock=FixedClock(NOW))
    assert no_rules.check(code(world.signers[0], vaccination(dose=1))).admit


def test_check_cli_with_a_rules_list(world, tmp_path):
    from keys.keyfile import write_public_key
    from keys.publishing import DccEntry, sign_trust_list

    anchor = write_public_key(tmp_path / "root.pem", world.root)
    tl = tmp_path / "tl.json"
    tl.write_text(json.dumps(sign_trust_list(world.root, [], version=1, issued_at=NOW - DAY, next_update=NOW + DAY,
                                             dcc=[DccEntry(s.certificate, s.country) for s in world.signers])))
    rl = tmp_path / "rl.json"
    rl.write_text(json.dumps(sign_example_rules_list(world.root, version=1, issued_at=NOW - DAY,
                                                     next_update=NOW + DAY)))
    payloads = [code(world.signers[0], vaccination()), code(world.signers[0], pcr(10))]
    r = subprocess.run([EXE, "check", "--json", "--anchor", str(anchor), "--trust-list", str(tl), "--rules-list",
                        str(rl), "--at", str(NOW), "--profile", "mall", "-"], input="\n".join(payloads) + "\n",
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    vacc, test = (json.loads(line) for line in r.stdout.splitlines())
    assert vacc["verdict"] == "ok" and vacc["admit"] is True and vacc["dcc"]["type"] == "vaccination"
    assert test["verdict"] == "rules" and test["admit"] is False
    assert test["failed_rule"]["zh"].startswith("本场所不接受检测证明")
