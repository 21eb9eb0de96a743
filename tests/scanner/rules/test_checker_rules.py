"""Business rules in the checking path: a real Checker on the demo world with its signed rules list.

The shipped "hcc1-transport" set (Shanghai codes at most 12 hours old) is the HCC1 regional rule; the venue
profile chooses which sets apply, and the failed rule's own words reach the decision.
"""

from __future__ import annotations

import json

import pytest

from keys.hcc1 import CodeClaims, issue_code
from keys.keyfile import load_public_key
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.checker import Checker
from scanner.clock import FixedClock
from scanner.config import settings_from_dict
from scanner.errors import ConfigError
from scanner.policy import Tone, load_profile
from scanner.rules.ruleslist import RulesStore
from scanner.storage.stores import open_stores
from scanner.verify import Verdict

HOUR = 3600


@pytest.fixture(scope="module")
def stores(world):
    anchors = [load_public_key(world.anchor_path)]
    trust = TrustStore.from_file(world.trust_list_path, anchors)
    status = StatusStore.open(":memory:")
    for p in world.status_list_paths:
        status.apply(p.read_bytes(), trust, str(p))
    return trust, status, RulesStore.from_file(world.rules_list_path, anchors)


def checker(world, stores, profile, rules=True):
    trust, status, rules_store = stores
    return Checker(trust, status, load_profile(profile), clock=FixedClock(world.now),
                   rules=rules_store if rules else None)


def shanghai_code(world, age_hours):
    claims = CodeClaims(iss="CN-SH", iat=world.now - age_hours * HOUR, exp=world.now + HOUR, name="M*** D****")
    return issue_code(world.issuers["CN-SH"], claims)


def test_transport_refuses_an_old_shanghai_code_with_the_rules_words(world, stores):
    d = checker(world, stores, "transport").check(shanghai_code(world, 13))
    assert d.result.verdict is Verdict.RULES and d.outcome == "rules" and not d.admit and d.tone is Tone.STOP
    assert d.reason is not None and d.reason.en == "Shanghai codes must have been issued in the last 12 hours at " \
                                                   "transport gates"
    assert d.reason.zh == "交通闸机：上海健康码须为12小时内生成"
    assert d.result.failed_rule == d.reason
    assert d.result.reasons[0].startswith("rule HR-CN-0001 1.0.0 failed")
    out = d.to_json()
    assert out["verdict"] == "rules" and out["failed_rule"] == {"zh": d.reason.zh, "en": d.reason.en}
    assert d.result.issuer == "CN-SH" and d.result.status is not None   # what was verified is kept


def test_the_rule_is_regional_timed_and_chosen_by_the_venue(world, stores):
    transport = checker(world, stores, "transport")
    assert transport.check(shanghai_code(world, 11)).admit
    assert transport.check(world.payloads["green"]).admit               # Zhejiang: no such rule
    assert checker(world, stores, "mall").check(shanghai_code(world, 13)).admit   # 2G has no HCC1 rule
    assert checker(world, stores, "transport", rules=False).check(shanghai_code(world, 13)).admit


def test_rules_never_soften_a_red_code_or_a_failed_verification(world, stores):
    transport = checker(world, stores, "transport")
    red = CodeClaims(iss="CN-SH", iat=world.now - 13 * HOUR, exp=world.now + HOUR, name="R*", status=2)
    d = transport.check(issue_code(world.issuers["CN-SH"], red))
    assert d.outcome == "red" and d.alert_guard and d.result.failed_rule is None
    assert transport.check(world.payloads["forged"]).outcome == "bad_signature"


# The demo DCCs a venue's rule sets refuse: the mall's 2G takes no tests, the hospital takes tests only.
RULES_REFUSE = {("mall", "dcc_test"), ("hospital", "dcc_vaccination")}


def test_every_demo_sample_keeps_its_verdict_under_the_shipped_rules(world, stores):
    for profile in ("transport", "mall", "hospital", "office"):
        c = checker(world, stores, profile)
        for s in world.samples.values():
            d = c.check(s.payload)
            if (profile, s.name) in RULES_REFUSE:
                assert d.result.verdict.value == "rules" and d.result.failed_rule is not None, (profile, s.name)
            else:
                assert d.result.verdict.value == s.expect_verdict, (profile, s.name)


def test_a_profile_naming_a_set_the_list_lacks_refuses_rather_than_guesses(world, stores):
    trust, status, rules_store = stores
    profile = load_profile("custom", {"custom": {"base": "transport", "profile": {"rule_sets": ["5G"]}}})
    d = Checker(trust, status, profile, clock=FixedClock(world.now), rules=rules_store).check(world.payloads["green"])
    assert d.outcome == "rules" and d.reason is not None and "5G" in d.reason.en


def test_profile_rule_sets_are_validated():
    with pytest.raises(ConfigError, match=r"profiles.transport.profile.rule_sets: expected a list"):
        load_profile("transport", {"transport": {"profile": {"rule_sets": "3G"}}})
    assert load_profile("hospital").rule_sets == ("test-only",)
    assert load_profile("transport").rule_sets == ("3G", "hcc1-transport")
    assert load_profile("office").rule_sets == ("3G",)


def test_open_stores_takes_the_bootstrap_rules_list_and_keeps_the_synced_one(world, tmp_path):
    settings = settings_from_dict({"device": {"data_dir": str(tmp_path / "data")},
                                   "trust": {"anchors": [str(world.anchor_path)],
                                             "trust_list": str(world.trust_list_path),
                                             "rules_list": str(world.rules_list_path)}}, source="t.toml")
    stores = open_stores(settings, visit_log=False)
    assert stores.rules is not None and stores.rules.version == 1
    assert (tmp_path / "data" / "rules" / "ruleslist.json").is_file()
    stores.close()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"protected": "x", "payload": "y", "signature": "z"}), encoding="utf-8")
    settings = settings_from_dict({"device": {"data_dir": str(tmp_path / "data2")},
                                   "trust": {"anchors": [str(world.anchor_path)], "rules_list": str(bad)}},
                                  source="t.toml")
    again = open_stores(settings, visit_log=False)
    assert again.rules is not None and again.rules.current is None
    assert "bootstrap rules list" in (again.rules.problem or "")
    again.close()


def test_a_regional_rule_applies_only_at_a_venue_of_that_region(world):
    from keys import jws
    from scanner.rules.ruleslist import RULES_TYP
    from tests.helpers.rules import make_rule

    regional = make_rule(Identifier="HR-CN-0002", CertificateType="HCC1", Region="ZJ", Logic=False,
                         Description=[{"lang": "en", "desc": "Closed to visitors in Zhejiang today"}])
    doc = jws.sign({"type": "hc-ruleslist", "version": 1, "issued_at": world.now, "next_update": world.now + 60,
                    "country": "CN", "rules": [regional], "rule_sets": {"3G": {"rules": ["HR-CN-0002"]}}},
                   world.root, RULES_TYP)
    anchors = [load_public_key(world.anchor_path)]
    trust = TrustStore.from_file(world.trust_list_path, anchors)
    rules = RulesStore.from_document(doc, anchors)
    at = {region: Checker(trust, None, load_profile("office"), clock=FixedClock(world.now), rules=rules,
                          region=region).check(world.payloads["green"]) for region in ("", "ZJ", "SH")}
    assert at[""].admit and at["SH"].admit
    assert at["ZJ"].outcome == "rules" and at["ZJ"].reason.en == "Closed to visitors in Zhejiang today"


def test_venue_region_is_checked_in_the_settings():
    with pytest.raises(ConfigError, match=r"venue.region: 'zhejiang' is not up to 5 capital letters"):
        settings_from_dict({"venue": {"region": "zhejiang"}}, source="t.toml")
    assert settings_from_dict({"venue": {"region": "ZJ"}}, source="t.toml").venue.region == "ZJ"
