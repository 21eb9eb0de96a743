"""EU rules parsed, selected and run: the shipped 3G / 2G / test-only sets on DCCs, the HCC1 regional rule,
version selection, and every refusal of a malformed rule."""

from __future__ import annotations

import pytest

from scanner.errors import RulesError
from scanner.rules.engine import evaluate_book, select_rules
from scanner.rules.model import parse_rule, parse_rule_book
from scanner.rules.shipped import EXAMPLE_COUNTRY, example_rules
from scanner.rules.valuesets import load_value_sets
from tests.helpers.rules import at, lab_test, make_rule, recovery, vaccination

HOUR = 3600
DAY = 86400


@pytest.fixture(scope="module")
def book():
    rules, sets = example_rules()
    return parse_rule_book({"country": EXAMPLE_COUNTRY, "rules": rules, "rule_sets": sets,
                            "value_sets": load_value_sets().codes()}, "shipped")


def run(book, sets, kind, payload, now, iat=None, exp=None):
    return evaluate_book(book, sets, kind, payload, now, iat=iat, exp=exp)


def failed(outcome):
    return [f.rule.identifier for f in outcome.failures]


def test_3g_vaccination_counts_from_day_14_to_day_365(book):
    dose = at("2021-06-01T00:00:00")
    for now, expected in [(dose + 13 * DAY, ["VR-CN-0002"]), (dose + 14 * DAY, []), (dose + 365 * DAY, []),
                          (dose + 366 * DAY, ["VR-CN-0002"])]:
        outcome = run(book, ["3G"], "Vaccination", vaccination(), now)
        assert failed(outcome) == expected, now
    applied = {r.identifier for r in run(book, ["3G"], "Vaccination", vaccination(), dose + 20 * DAY).applied}
    assert applied == {"GR-CN-0001", "VR-CN-0001", "VR-CN-0002", "VR-CN-0003"}


def test_3g_incomplete_course_and_unknown_vaccine_fail_with_their_descriptions(book):
    now = at("2021-07-01T00:00:00")
    outcome = run(book, ["3G"], "Vaccination", vaccination(dn=1, sd=2, mp="Sputnik-V-fake"), now)
    assert failed(outcome) == ["VR-CN-0001", "VR-CN-0003"] and not outcome.passed
    first = outcome.failures[0].rule.description
    assert (first.zh, first.en) == ("疫苗须已全程接种", "The vaccination course must be complete")


def test_3g_tests_pcr_72_hours_rapid_antigen_24_and_negative_only(book):
    sampled = at("2021-07-01T08:00:00")
    assert run(book, ["3G"], "Test", lab_test(sampled), sampled + 71 * HOUR).passed
    assert failed(run(book, ["3G"], "Test", lab_test(sampled), sampled + 73 * HOUR)) == ["TR-CN-0002"]
    rat = lab_test(sampled, tt="LP217198-3")
    assert run(book, ["3G"], "Test", rat, sampled + 23 * HOUR).passed
    assert failed(run(book, ["3G"], "Test", rat, sampled + 25 * HOUR)) == ["TR-CN-0002"]
    assert failed(run(book, ["3G"], "Test", lab_test(sampled), sampled - HOUR)) == ["TR-CN-0002"]  # future sample
    assert failed(run(book, ["3G"], "Test", lab_test(sampled, tr="260373001"), sampled + HOUR)) == ["TR-CN-0001"]


def test_3g_recovery_within_its_dates(book):
    cert = recovery("2021-05-01", "2021-05-12", "2021-10-28")
    assert run(book, ["3G"], "Recovery", cert, at("2021-06-01T00:00:00")).passed
    assert failed(run(book, ["3G"], "Recovery", cert, at("2021-10-29T00:00:00"))) == ["RR-CN-0001"]


def test_2g_refuses_tests_and_test_only_refuses_the_rest(book):
    sampled = at("2021-07-01T08:00:00")
    outcome = run(book, ["2G"], "Test", lab_test(sampled), sampled + HOUR)
    assert failed(outcome) == ["TR-CN-0100"]
    assert outcome.failures[0].rule.description.zh.startswith("本场所不接受检测证明")
    assert run(book, ["2G"], "Vaccination", vaccination(), at("2021-07-01T00:00:00")).passed
    assert run(book, ["test-only"], "Test", lab_test(sampled), sampled + HOUR).passed
    assert failed(run(book, ["test-only"], "Vaccination", vaccination(), at("2021-07-01T00:00:00"))) == ["VR-CN-0100"]
    cert = recovery("2021-05-01", "2021-05-12", "2021-10-28")
    assert failed(run(book, ["test-only"], "Recovery", cert, at("2021-06-01T00:00:00"))) == ["RR-CN-0100"]


def test_hcc1_regional_rule_shanghai_codes_twelve_hours_at_transport(book):
    now = at("2026-12-03T12:00:00")
    sh = {"iss": "CN-SH", "type": "personal", "status": "green"}
    zj = {"iss": "CN-ZJ", "type": "personal", "status": "green"}
    assert run(book, ["3G", "hcc1-transport"], "HCC1", sh, now, iat=now - 11 * HOUR).passed
    outcome = run(book, ["3G", "hcc1-transport"], "HCC1", sh, now, iat=now - 13 * HOUR)
    assert failed(outcome) == ["HR-CN-0001"]
    assert [r.identifier for r in outcome.applied] == ["HR-CN-0001"]   # no DCC "General" rule for HCC1
    assert run(book, ["hcc1-transport"], "HCC1", zj, now, iat=now - 13 * HOUR).passed
    assert run(book, ["3G"], "HCC1", sh, now, iat=now - 13 * HOUR).applied == ()


def test_a_rule_that_errors_fails_and_says_why(book):
    # No dose number: ">=" on null is a type error, which counts as a failure.
    cert = vaccination()
    del cert["v"][0]["dn"]
    outcome = run(book, ["3G"], "Vaccination", cert, at("2021-07-01T00:00:00"))
    assert failed(outcome) == ["VR-CN-0001"] and "integers" in (outcome.failures[0].error or "")
    assert "VR-CN-0001 1.0.0 failed: The vaccination course must be complete (error:" in outcome.failures[0].reason


def test_a_missing_rule_set_is_reported(book):
    outcome = run(book, ["3G", "nope"], "Vaccination", vaccination(), at("2021-07-01T00:00:00"))
    assert outcome.missing_sets == ("nope",) and not outcome.passed


def _book(*rules, sets=None):
    ids = sorted({r["Identifier"] for r in rules})
    return parse_rule_book({"country": "CN", "rules": list(rules),
                            "rule_sets": sets or {"s": {"rules": ids}}}, "t")


def test_the_latest_version_in_force_is_the_one():
    v1 = make_rule(Version="1.0.0", Logic=False, ValidFrom="2021-01-01T00:00:00Z")
    v2 = make_rule(Version="1.2.0", Logic=True, ValidFrom="2021-06-01T00:00:00Z")
    v10 = make_rule(Version="1.10.0", Logic=False, ValidFrom="2022-01-01T00:00:00Z", ValidTo="2022-02-01T00:00:00Z")
    book = _book(v1, v2, v10)
    def version(now):
        return [r.version_text for r in select_rules(book, ["s"], "Vaccination", at(now))]
    assert version("2021-03-01T00:00:00") == ["1.0.0"]
    assert version("2021-07-01T00:00:00") == ["1.2.0"]
    assert version("2022-01-15T00:00:00") == ["1.10.0"]   # 1.10 > 1.2: versions compare as numbers
    assert version("2022-03-01T00:00:00") == []            # the newest expired: no fallback to an older one
    assert version("2020-01-01T00:00:00") == []


def test_selection_by_type_region_and_set():
    general = make_rule(Identifier="GR-CN-0001", CertificateType="General")
    test_rule = make_rule(Identifier="TR-CN-0001", CertificateType="Test")
    regional = make_rule(Identifier="VR-CN-0002", Region="SH")
    book = _book(general, test_rule, regional, sets={"a": {"rules": ["GR-CN-0001", "TR-CN-0001", "VR-CN-0002"]},
                                                     "b": {"rules": ["TR-CN-0001"]}})
    now = at("2025-01-01T00:00:00")
    def ids(sets, kind, region=""):
        return [r.identifier for r in select_rules(book, sets, kind, now, region)]
    assert ids(["a"], "Vaccination") == ["GR-CN-0001"]
    assert ids(["a"], "Vaccination", "SH") == ["GR-CN-0001", "VR-CN-0002"]
    assert ids(["a"], "Test") == ["GR-CN-0001", "TR-CN-0001"]
    assert ids(["b"], "Test") == ["TR-CN-0001"] and ids(["b", "a"], "Recovery") == ["GR-CN-0001"]


@pytest.mark.parametrize("changes, why", [
    ({"Identifier": "XX-CN-0001"}, "Identifier"), ({"Identifier": None}, "Identifier missing"),
    ({"Type": "Maybe"}, "Type"), ({"Country": "cn"}, "Country"), ({"Region": "toolong"}, "Region"),
    ({"Version": "1.0"}, "Version"), ({"SchemaVersion": 1}, "SchemaVersion"), ({"Engine": "JSONLOGIC"}, "Engine"),
    ({"EngineVersion": "x"}, "EngineVersion"), ({"CertificateType": "Passport"}, "CertificateType"),
    ({"Description": []}, "Description"), ({"Description": [{"lang": "de", "desc": "Regel"}]}, "English"),
    ({"Description": [{"lang": "en", "desc": " "}]}, "non-empty"),
    ({"ValidFrom": "yesterday"}, "ValidFrom"), ({"ValidTo": "2020-01-01T00:00:00Z"}, "not after"),
    ({"AffectedFields": "v"}, "AffectedFields"), ({"Logic": None}, "Logic missing"),
    ({"Logic": {"var": ["x", 1]}}, "Logic: "), ({"Logic": {"plusTime": ["2021", 1, "week"]}}, "Logic: "),
])
def test_malformed_rules_are_refused_naming_the_field(changes, why):
    with pytest.raises(RulesError, match=why):
        parse_rule(make_rule(**changes), "rules.json")


@pytest.mark.parametrize("payload, why", [
    ({"country": "China"}, "country"), ({"country": "CN", "rules": {}}, "rules missing"),
    ({"country": "CN", "rules": [make_rule(Country="DE")], "rule_sets": {}}, "is for DE"),
    ({"country": "CN", "rules": [make_rule(), make_rule()], "rule_sets": {}}, "appears twice"),
    ({"country": "CN", "rules": [make_rule()]}, "rule_sets missing"),
    ({"country": "CN", "rules": [], "rule_sets": {"3G": {"rules": ["VR-CN-0001"]}}}, "does not carry"),
    ({"country": "CN", "rules": [], "rule_sets": {"bad name": {"rules": []}}}, "rule set name"),
    ({"country": "CN", "rules": [], "rule_sets": {"x": ["VR-CN-0001"]}}, "title, rules"),
    ({"country": "CN", "rules": [], "rule_sets": {}, "value_sets": {"a": [1]}}, "value_sets"),
])
def test_malformed_rule_books_are_refused(payload, why):
    with pytest.raises(RulesError, match=why):
        parse_rule_book(payload, "list")


def test_descriptions_fall_back_to_english_and_set_titles_to_the_name():
    rule = parse_rule(make_rule(Description=[{"lang": "EN", "desc": "Only English"}]))
    assert (rule.description.zh, rule.description.en) == ("Only English", "Only English")
    book = _book(make_rule())
    assert (book.rule_sets["s"].title.zh, book.rule_sets["s"].title.en) == ("s", "s")
