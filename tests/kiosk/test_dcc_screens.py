"""EU DCC result screens: Latin name and date of birth, type and key fact, country; a rule's refusal."""

from __future__ import annotations

import zlib
from typing import Any

import base45

from scanner.demo.session import decide_now
from ui.model.view import result_view


def test_vaccination_screen_shows_what_a_guard_compares_with_a_passport(make_core: Any, world: Any,
                                                                        make_window: Any) -> None:
    core = make_core("transport")
    w = make_window(result_seconds=30)
    shown = decide_now(core, world.payloads["dcc_vaccination"])
    v = result_view(shown.decision)
    assert v.admit and v.kind == "pass" and v.dcc is not None
    assert v.person == "MUSTERFRAU GOESSINGER, GABRIELE"
    assert v.dcc.dob == "1998-02-26" and v.dcc.country == "DE"
    assert v.dcc.kind.en == "Vaccination certificate" and v.dcc.fact is not None
    assert v.dcc.fact.en.startswith("Dose 2/2 on ")
    w.show_decision(shown)
    texts = w.result.texts()
    assert "MUSTERFRAU GOESSINGER, GABRIELE" in texts
    assert "出生日期 / Born: 1998-02-26" in texts
    assert "疫苗接种证书 / Vaccination certificate · DE" in texts
    assert v.dcc.fact.zh in texts and v.dcc.fact.en in texts


def test_test_certificate_fact_and_distinct_codes(make_core: Any, world: Any, make_window: Any) -> None:
    core = make_core("transport")
    t = result_view(decide_now(core, world.payloads["dcc_test"]).decision)
    assert t.dcc is not None and t.dcc.fact is not None
    assert t.dcc.fact.en.startswith("PCR negative, sampled ") and t.dcc.fact.zh.startswith("核酸(PCR) 阴性")
    v = result_view(decide_now(core, world.payloads["dcc_vaccination"]).decision)
    # Two people's DCCs are two codes (debounce and groups tell them apart).
    assert t.code_key != v.code_key


def test_refused_by_a_rule_shows_the_rules_description(make_core: Any, world: Any, make_window: Any) -> None:
    core = make_core("hospital")  # test certificates only
    w = make_window(result_seconds=30)
    shown = decide_now(core, world.payloads["dcc_vaccination"])
    d = shown.decision
    assert not d.admit and d.outcome == "rules" and d.result.failed_rule is not None
    w.show_decision(shown)
    texts = w.result.texts()
    assert d.result.failed_rule.zh in texts and d.result.failed_rule.en in texts
    assert "出生日期 / Born: 1998-02-26" in texts


def test_expired_and_unverified_dccs_show_no_facts(make_core: Any, world: Any) -> None:
    core = make_core("transport")
    v = result_view(decide_now(core, world.payloads["dcc_expired"]).decision)
    assert v.kind == "invalid" and v.dcc is not None and v.dcc.fact is not None  # signed, so shown
    raw = bytearray(zlib.decompress(base45.b45decode(world.payloads["dcc_vaccination"][4:])))
    raw[-3] ^= 1  # inside the signature
    forged = "HC1:" + base45.b45encode(zlib.compress(bytes(raw))).decode()
    f = result_view(decide_now(core, forged).decision)
    assert f.verdict == "bad_signature" and not f.admit
    assert f.dcc is not None and f.dcc.fact is None and f.dcc.country == ""
    assert f.person is not None and "unverified" in f.person
