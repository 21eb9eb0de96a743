"""A code refused by a business rule: the kiosk's result names the failed rule in Chinese and English."""

from __future__ import annotations

from keys.hcc1 import CodeClaims, issue_code
from keys.keyfile import load_public_key
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.checker import Checker
from scanner.clock import FixedClock
from scanner.policy import load_profile
from scanner.rules.ruleslist import RulesStore
from ui.model.view import result_view


def test_the_failed_rule_is_the_reason_on_screen(world):
    anchors = [load_public_key(world.anchor_path)]
    trust = TrustStore.from_file(world.trust_list_path, anchors)
    checker = Checker(trust, StatusStore.open(":memory:"), load_profile("transport"), clock=FixedClock(world.now),
                      rules=RulesStore.from_file(world.rules_list_path, anchors))
    old = CodeClaims(iss="CN-SH", iat=world.now - 13 * 3600, exp=world.now + 3600, name="M*** D****")
    view = result_view(checker.check(issue_code(world.issuers["CN-SH"], old)))
    assert not view.admit and view.outcome == "rules" and view.verdict == "rules"
    assert view.reason is not None
    assert (view.reason.zh, view.reason.en) == ("交通闸机：上海健康码须为12小时内生成",
                                                "Shanghai codes must have been issued in the last 12 hours at "
                                                "transport gates")
    lines = view.lines()
    assert lines.index(view.headline.zh) < lines.index(view.reason.zh)
    assert view.person == "M*** D****"   # the guard still sees whose code it is


def test_the_idle_screen_says_when_the_venues_rules_are_not_applied(world, tmp_path):
    from scanner.demo.session import demo_core
    from ui.model.status import banners

    core, _ = demo_core(tmp_path / "with", world=world, now=world.now, log_visits=False)
    assert core.checker.rules is not None and core.checker.rules.version == 1
    assert not any("Rules list" in b.en for b in banners(core.snapshot()))
    # A device whose data directory has no rules list (none synced, no bootstrap file).
    core.checker.rules = RulesStore.open(tmp_path / "empty-rules", core.checker.rules.anchors)
    shown = [b for b in banners(core.snapshot()) if "Rules list" in b.en]
    assert len(shown) == 1 and "3G, hcc1-transport are not applied" in shown[0].en
    assert shown[0].zh.startswith("业务规则名单缺失")
