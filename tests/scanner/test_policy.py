"""Venue profiles: the shipped data, decisions per venue, overrides from config and their errors."""

from __future__ import annotations

import json

import pytest

from keys.localtext import LocalText
from scanner.config import settings_from_dict
from scanner.errors import ConfigError
from scanner.policy import OUTCOMES, Tone, builtin_names, builtin_problems, decide, load_profile
from scanner.profiles import BUILTIN_JSON, PROFILE_DIR, parsed_toml
from scanner.verify import CodeType, Status, Verdict, VerifyResult

REQUIRED = {"transport", "mall", "school", "office", "community", "pharmacy", "hospital"}


def ok(status: Status, issuer: str = "CN-ZJ") -> VerifyResult:
    return VerifyResult(verdict=Verdict.OK, status=status, issuer=issuer, code_type=CodeType.PERSONAL,
                        issuer_name=LocalText("浙江", "Zhejiang"))


def test_shipped_profiles_are_complete_and_valid() -> None:
    assert set(builtin_names()) >= REQUIRED
    assert builtin_problems() == []
    for name in builtin_names():
        p = load_profile(name)
        assert set(p.rules) == set(OUTCOMES)
        assert p.max_code_age > 0 and p.accepts("CN-ZJ") and p.accepts("CN")


def test_the_json_commands_read_is_the_toml_files_parsed() -> None:
    # After editing a profile's TOML file: `python -m scanner.profiles` writes builtin.json again.
    assert json.loads(BUILTIN_JSON.read_text(encoding="utf-8")) == parsed_toml()
    assert sorted(parsed_toml()) == sorted([*builtin_names(), "_base"]) == sorted(
        p.stem for p in PROFILE_DIR.glob("*.toml"))


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_only_green_admits_and_forgeries_alert(name: str) -> None:
    p = load_profile(name)
    assert decide(ok(Status.GREEN), p).admit
    assert decide(ok(Status.GREEN), p).tone is Tone.PASS
    for status in (Status.YELLOW, Status.RED):
        assert not decide(ok(status), p).admit
    forged = decide(VerifyResult(verdict=Verdict.BAD_SIGNATURE), p)
    assert not forged.admit and forged.reason.en == "Signature invalid — possibly forged"
    # The mall's kiosk runs itself: an alert nobody acknowledges would hold its screen for good.
    assert forged.alert_guard is (name != "mall")
    for v in Verdict:
        if v is not Verdict.OK:
            d = decide(VerifyResult(verdict=v), p)
            assert not d.admit and d.reason is not None


def test_transport_yellow_and_red() -> None:
    p = load_profile("transport")
    y = decide(ok(Status.YELLOW), p)
    assert (y.tone, y.headline) == (Tone.STOP, LocalText("居家隔离中，请勿通行", "Under home isolation — do not enter"))
    r = decide(ok(Status.RED), p)
    assert r.tone is Tone.ALERT and r.alert_guard


def test_hospital_red_goes_to_fever_clinic() -> None:
    d = decide(ok(Status.RED), load_profile("hospital"))
    assert not d.admit and "fever clinic" in d.headline.en and "发热门诊" in d.headline.zh


def test_untrusted_clock_means_check_manually() -> None:
    d = decide(ok(Status.GREEN), load_profile("mall"), clock_trusted=False)
    assert not d.admit and d.tone is Tone.CHECK and d.reason.en == "Device clock wrong"


def test_untrusted_clock_leaves_an_admitted_yellow_to_the_guard() -> None:
    """A venue that admits yellow codes: on an untrusted clock the code's age cannot be judged, so a yellow is a
    manual check like a green; only a yellow the venue refuses stands as a refusal."""
    data = {"profiles": {"clinic": {"base": "hospital", "outcomes": {"yellow": {"admit": True}}}}}
    clinic = load_profile("clinic", settings_from_dict(data).profiles)
    d = decide(ok(Status.YELLOW), clinic, clock_trusted=False)
    assert (d.outcome, d.admit, d.tone) == ("clock_untrusted", False, Tone.CHECK)
    refused = decide(ok(Status.YELLOW), load_profile("hospital"), clock_trusted=False)
    assert refused.outcome == "yellow" and not refused.admit


def test_issuer_patterns() -> None:
    data = {"profiles": {"mall": {"profile": {"accepted_issuers": ["CN-ZJ"]}}}}
    p = load_profile("mall", settings_from_dict(data).profiles)
    assert decide(ok(Status.GREEN), p).admit
    d = decide(ok(Status.GREEN, issuer="CN-SH"), p)
    assert not d.admit and d.outcome == "not_accepted"


def test_overrides_and_new_profiles_from_config() -> None:
    data = {"profiles": {
        "school": {"outcomes": {"yellow": {"tone": "check", "alert_guard": True}}},
        "stadium": {"base": "mall", "profile": {"title": {"zh": "体育场", "en": "Stadium"}, "max_code_age": 3600}},
    }}
    settings = settings_from_dict(data, "site.toml")
    school = load_profile("school", settings.profiles)
    assert school.rules["yellow"].tone is Tone.CHECK and school.rules["yellow"].alert_guard
    assert school.rules["yellow"].headline.en == "Yellow code — no entry today"  # the rest is inherited
    stadium = load_profile("stadium", settings.profiles)
    assert stadium.title.en == "Stadium" and stadium.max_code_age == 3600
    assert stadium.rules["green"].headline.en == "Green code — welcome"


@pytest.mark.parametrize("profiles, key", [
    ({"mall": {"outcomes": {"yellow": {"tone": "blue"}}}}, "profiles.mall.outcomes.yellow.tone"),
    ({"mall": {"outcomes": {"purple": {"admit": True}}}}, "profiles.mall.outcomes.purple"),
    ({"mall": {"outcomes": {"red": {"admit": "no"}}}}, "profiles.mall.outcomes.red.admit"),
    ({"mall": {"profile": {"max_code_age": -1}}}, "profiles.mall.profile.max_code_age"),
    ({"mall": {"profile": {"flow": "cinema"}}}, "profiles.mall.profile.flow"),
    ({"mall": {"profile": {"anti_passback": "1\u00b2:00"}}}, "profiles.mall.profile.anti_passback"),
    ({"mall": {"colour": "red"}}, "profiles.mall.colour"),
    ({"mall": {"outcomes": {"green": {"headline": "hi"}}}}, "profiles.mall.outcomes.green.headline"),
    ({"stadium": {"profile": {}}}, "profiles.stadium"),
    ({"stadium": {"base": "arena"}}, "profiles.stadium.base"),
])
def test_invalid_profile_names_the_key_and_file(profiles: dict, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        settings_from_dict({"profiles": profiles}, "/etc/checkpoint/config.toml")
    assert key in str(e.value) and "/etc/checkpoint/config.toml" in str(e.value)


def test_unknown_profile_name() -> None:
    with pytest.raises(ConfigError, match="unknown profile 'cinema'"):
        load_profile("cinema")
