"""The rules list from operator to gate: published on the real hub, fetched by the agent, picked up by the kiosk."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from keys import jws
from keys.keyfile import load_public_key
from scanner.demo.world import build_demo_world
from scanner.rules.ruleslist import RULES_TYP, RulesStore
from scanner.rules.shipped import sign_example_rules_list
from scanner.storage.syncstate import read_status
from scanner.storage.visitlog import VisitLog
from sync.agent import AgentConfig, SyncAgent
from sync.errors import PublishError
from sync.hub.publish import publish_rules_list
from sync.hub.store import HubStore
from tests.helpers.faultproxy import FRESH_LISTS, HubProcess, make_pki
from tests.helpers.rules import make_rule


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_rules_list_is_published_fetched_verified_and_reaches_the_kiosk(tmp_path, pki):
    world = build_demo_world(tmp_path / "world", int(time.time()))
    anchors = [load_public_key(world.anchor_path)]
    store = HubStore(tmp_path / "hub.sqlite")

    def put(version: int) -> None:
        f = tmp_path / f"rules-{version}-{time.monotonic_ns()}.json"
        f.write_text(json.dumps(sign_example_rules_list(world.root, version=version, issued_at=world.now,
                                                        next_update=world.now + 86400)), encoding="utf-8")
        publish_rules_list(store, f)

    data = tmp_path / "device"
    log = VisitLog(data / "visits.sqlite")
    rules = RulesStore.open(data / "rules", anchors)
    kiosk = RulesStore.open(data / "rules", anchors)   # the kiosk process's own view of the same folder
    with HubProcess(tmp_path / "hub.sqlite", pki, extra=FRESH_LISTS) as hub:
        cfg = AgentConfig(url=hub.url, client_cert=str(pki.device_cert), client_key=str(pki.device_key),
                          ca_cert=str(pki.ca), data_dir=data, device_id=pki.device_id)
        agent = SyncAgent(cfg, log, None, None, rng=random.Random(1), rules=rules)
        assert agent.run_once().rules == "none published"
        put(2)
        assert agent.run_once().rules == "updated to version 2" and rules.version == 2
        assert kiosk.refresh() and kiosk.version == 2 and kiosk.book is not None
        assert agent.run_once().rules == "unchanged"        # the round says nothing changed
        state = read_status(data)
        assert state is not None and state.rules_list["version"] == 2 and state.rules_list["error"] is None
        assert state.steps["rules_list"]["ok"]

        put(1)                                               # an old list replayed by the hub
        report = agent.run_once()
        assert "not newer than the held version 2" in report.rules and rules.version == 2
        state = read_status(data)
        assert state is not None and "rules list hub" in state.rules_list["error"] and state.online
        assert not kiosk.refresh() and kiosk.version == 2

        put(3)
        assert agent.run_once().rules == "updated to version 3" and kiosk.refresh() and kiosk.version == 3
        agent.close()
    store.close()
    log.close()


def test_the_hub_refuses_a_rules_list_every_device_would_refuse(tmp_path):
    world = build_demo_world(tmp_path / "world", int(time.time()))
    store = HubStore(tmp_path / "hub.sqlite")
    payload = {"type": "hc-ruleslist", "version": 1, "issued_at": 1, "next_update": 2, "country": "CN",
               "rules": [make_rule(Logic={"if": [True, 1]})], "rule_sets": {}, "value_sets": {}}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(jws.sign(payload, world.root, RULES_TYP)), encoding="utf-8")
    with pytest.raises(PublishError, match=r"VR-CN-0901: Logic: \"if\" takes 3 operands"):
        publish_rules_list(store, bad)
    with pytest.raises(PublishError, match="payload type is not 'hc-ruleslist'"):
        publish_rules_list(store, world.trust_list_path)
    assert store.latest("rules") is None
    store.close()


def test_a_regions_new_standard_reaches_the_gate_in_one_sync(tmp_path, pki):
    """Shanghai tightens its codes at transport gates from 12 to 6 hours: one new rules list, one round."""
    from keys.hcc1 import CodeClaims, issue_code
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore
    from scanner.checker import Checker
    from scanner.clock import FixedClock
    from scanner.policy import load_profile
    from scanner.rules.ruleslist import sign_rules_list
    from scanner.rules.shipped import example_rules
    from scanner.rules.valuesets import load_value_sets

    world = build_demo_world(tmp_path / "world", int(time.time()))
    anchors = [load_public_key(world.anchor_path)]
    store = HubStore(tmp_path / "hub.sqlite")
    rules, sets = example_rules()
    tighter = next(dict(r) for r in rules if r["Identifier"] == "HR-CN-0001")
    tighter["Version"] = "1.1.0"
    tighter["Description"] = [{"lang": "en", "desc": "Shanghai codes: at most 6 hours old at transport gates"},
                              {"lang": "zh", "desc": "交通闸机：上海健康码须为6小时内生成"}]
    tighter["Logic"] = json.loads(json.dumps(tighter["Logic"]).replace('12, "hour"', '6, "hour"'))

    def signed_file(version: int, with_rules: list) -> Path:
        f = tmp_path / f"rules-{version}.json"
        f.write_text(json.dumps(sign_rules_list(world.root, version=version, issued_at=world.now,
                                                next_update=world.now + 86400, country="CN", rules=with_rules,
                                                rule_sets=sets, value_sets=load_value_sets().codes())))
        return f

    publish_rules_list(store, signed_file(1, rules))
    second = signed_file(2, [*rules, tighter])

    data = tmp_path / "device"
    log = VisitLog(data / "visits.sqlite")
    kiosk = Checker(TrustStore.from_file(world.trust_list_path, anchors), StatusStore.open(":memory:"),
                    load_profile("transport"), clock=FixedClock(world.now),
                    rules=RulesStore.open(data / "rules", anchors))
    eight_hours = issue_code(world.issuers["CN-SH"], CodeClaims(iss="CN-SH", iat=world.now - 8 * 3600,
                                                                 exp=world.now + 3600, name="M*** D****"))
    with HubProcess(tmp_path / "hub.sqlite", pki, extra=FRESH_LISTS) as hub:
        cfg = AgentConfig(url=hub.url, client_cert=str(pki.device_cert), client_key=str(pki.device_key),
                          ca_cert=str(pki.ca), data_dir=data, device_id=pki.device_id)
        agent = SyncAgent(cfg, log, None, None, rng=random.Random(1),
                          rules=RulesStore.open(data / "rules", anchors))
        agent.run_once()
        assert kiosk.rules is not None and kiosk.rules.refresh()
        assert kiosk.check(eight_hours).admit
        publish_rules_list(store, second)
        assert agent.run_once().rules == "updated to version 2"
        assert kiosk.rules.refresh()
        refused = kiosk.check(eight_hours)
        assert refused.outcome == "rules" and refused.reason is not None
        assert refused.reason.en == "Shanghai codes: at most 6 hours old at transport gates"
        agent.close()
    store.close()
    log.close()
