"""The signed rules list: envelope and anchors, content checks, rollback, atomic persistence, recovery, and
hostile input (hypothesis): every refusal is the typed one."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys import jws
from keys.keyfile import generate_key
from keys.publishing import sign_trust_list
from scanner.errors import RulesError, RulesListError, RulesRollbackError
from scanner.rules.model import parse_rule_book
from scanner.rules.ruleslist import RULES_TYP, RulesList, RulesStore, sign_rules_list
from scanner.rules.shipped import sign_example_rules_list
from tests.helpers.rules import make_rule

NOW = 1_800_000_000


@pytest.fixture(scope="module")
def root():
    return generate_key("ES256")


def signed(root, version=1, **kw):
    return sign_example_rules_list(root, version=version, issued_at=NOW, next_update=NOW + 86400, **kw)


def test_a_signed_list_verifies_and_carries_rules_sets_and_value_sets(root):
    rl = RulesList.verify(signed(root), [root.public_key()], "t")
    assert rl.version == 1 and rl.book.country == "CN"
    assert set(rl.book.rule_sets) == {"3G", "2G", "test-only", "hcc1-transport"}
    assert "EU/1/20/1528" in rl.book.value_sets["vaccines-covid-19-names"]
    assert jws.parse(signed(root)).header["typ"] == RULES_TYP


def test_refused_envelopes(root):
    other = generate_key("ES256")
    with pytest.raises(RulesListError, match="pinned trust anchor"):
        RulesList.verify(signed(other), [root.public_key()], "t")
    with pytest.raises(RulesListError, match="no trust anchor"):
        RulesList.verify(signed(root), [], "t")
    trust_list = sign_trust_list(root, [], version=1, issued_at=NOW, next_update=NOW + 1)
    with pytest.raises(RulesListError, match="typ is 'hc-trustlist\\+json'"):
        RulesList.verify(trust_list, [root.public_key()], "t")
    tampered = dict(signed(root))
    tampered["payload"] = jws.sign({"type": "hc-ruleslist"}, root, RULES_TYP)["payload"]
    with pytest.raises(RulesListError, match="signature does not verify"):
        RulesList.verify(tampered, [root.public_key()], "t")
    with pytest.raises(RulesListError, match="not a valid JWS"):
        RulesList.verify(b"{not json", [root.public_key()], "t")


@pytest.mark.parametrize("change, why", [
    ({"type": "hc-trustlist"}, "payload type"), ({"version": -1}, "version"), ({"next_update": True}, "next_update"),
    ({"rules": [make_rule(Logic={"nope": [1]})]}, "Logic: unknown operator"),
    ({"rule_sets": {"3G": {"rules": ["VR-CN-9999"]}}}, "does not carry"),
])
def test_a_correctly_signed_list_with_bad_content_is_refused(root, change, why):
    payload = {"type": "hc-ruleslist", "version": 1, "issued_at": NOW, "next_update": NOW + 1, "country": "CN",
               "rules": [make_rule()], "rule_sets": {"s": {"rules": ["VR-CN-0901"]}}, "value_sets": {}}
    payload.update(change)
    with pytest.raises(RulesListError, match=why):
        RulesList.verify(jws.sign(payload, root, RULES_TYP), [root.public_key()], "hub")


def test_signing_checks_the_content_first(root):
    with pytest.raises(RulesError, match="Logic"):
        sign_rules_list(root, version=1, issued_at=NOW, next_update=NOW + 1, country="CN",
                        rules=[make_rule(Logic={"if": [True]})], rule_sets={}, value_sets={})
    with pytest.raises(RulesError, match="version"):
        sign_rules_list(root, version=-3, issued_at=NOW, next_update=NOW + 1, country="CN",
                        rules=[], rule_sets={}, value_sets={})


def test_store_persists_atomically_and_refuses_rollback(root, tmp_path):
    store = RulesStore.open(tmp_path / "rules", [root.public_key()])
    assert store.current is None and store.problem is None and store.is_stale(NOW)
    store.update(signed(root, 2), "hub")
    assert (tmp_path / "rules" / "ruleslist.json").is_file()
    assert [p.name for p in (tmp_path / "rules").iterdir()] == ["ruleslist.json"]   # no temporary left
    for old in (1, 2):
        with pytest.raises(RulesRollbackError, match=f"version {old} is not newer than the held version 2"):
            store.update(signed(root, old), "hub")
    assert RulesStore.open(tmp_path / "rules", [root.public_key()]).version == 2
    assert not store.is_stale(NOW) and store.is_stale(NOW + 86401)


def test_a_damaged_cache_is_set_aside_and_the_bootstrap_list_used(root, tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    (d / "ruleslist.json").write_text('{"protected": "x"', encoding="utf-8")
    boot = tmp_path / "boot.json"
    boot.write_text(json.dumps(signed(root, 5)), encoding="utf-8")
    store = RulesStore.open(d, [root.public_key()], bootstrap=boot)
    assert store.version == 5 and "cached rules list refused" in (store.problem or "")
    assert (d / "ruleslist.json.bad-1").is_file()
    bad_boot = tmp_path / "bad.json"
    bad_boot.write_text(json.dumps(signed(generate_key("ES256"))), encoding="utf-8")
    empty = RulesStore.open(tmp_path / "other", [root.public_key()], bootstrap=bad_boot)
    assert empty.current is None and "bootstrap rules list" in (empty.problem or "")


def test_refresh_picks_up_the_agents_list_and_keeps_the_held_one_on_a_bad_file(root, tmp_path):
    d = tmp_path / "rules"
    kiosk = RulesStore.open(d, [root.public_key()])
    agent = RulesStore.open(d, [root.public_key()])
    assert kiosk.refresh() is False
    agent.update(signed(root, 3), "hub")
    assert kiosk.refresh() is True and kiosk.version == 3
    assert kiosk.refresh() is False
    (d / "ruleslist.json").write_text("garbage", encoding="utf-8")
    os.utime(d / "ruleslist.json", (NOW, NOW))
    assert kiosk.refresh() is False and kiosk.version == 3
    assert (d / "ruleslist.json").is_file()   # a running device does not move files aside


def test_from_file_names_the_file(root, tmp_path):
    with pytest.raises(RulesListError, match=r"missing\.json: cannot read"):
        RulesStore.from_file(tmp_path / "missing.json", [root.public_key()])
    path = tmp_path / "rl.json"
    path.write_text(json.dumps(signed(root, 9)), encoding="utf-8")
    assert RulesStore.from_file(path, [root.public_key()]).book is not None


# --- hostile input: every refusal is the typed one ---------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=15)
RULE_KEYS = ["Identifier", "Type", "Country", "Region", "Version", "SchemaVersion", "Engine", "EngineVersion",
             "CertificateType", "Description", "ValidFrom", "ValidTo", "AffectedFields", "Logic"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["country", "rules", "rule_sets", "value_sets"]), JSON),
       st.dictionaries(st.sampled_from(RULE_KEYS), JSON), st.booleans())
def test_any_payload_parses_or_is_a_rules_error(payload, rule_changes, use_rule):
    if use_rule:
        payload = {"country": "CN", "rule_sets": {}, **payload, "rules": [make_rule(**rule_changes)]}
    try:
        parse_rule_book(payload, "fuzz")
    except RulesError as e:
        assert str(e).startswith("fuzz")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_signed_lists_are_refused_never_crash(root, data):
    raw = bytearray(json.dumps(signed(root)).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    try:
        RulesList.verify(bytes(raw), [root.public_key()], "fuzz")
    except RulesListError as e:
        assert e.source == "fuzz"
