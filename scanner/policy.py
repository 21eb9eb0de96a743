"""Venue profiles: how a verification result becomes an admit decision and the words on the screen.

Profiles are data (`scanner/profiles/*.toml`, read as `builtin.json`): each starts from `_base.toml` and
overrides what differs for its venue; the config file's `[profiles.NAME]` tables override again (or define
a new profile with `base = "mall"`). Verification does not depend on the venue except through the maximum code age;
everything the guard sees and hears is decided here.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from enum import StrEnum
from functools import cache, cached_property

from keys.frozen import frozen
from keys.jsontypes import Json, JsonObject
from keys.localtext import LocalText
from scanner.errors import ConfigError
from scanner.profiles import BUILTIN_JSON
from scanner.verify import Verdict, VerifyResult


class Tone(StrEnum):
    PASS = "pass"
    STOP = "stop"
    ALERT = "alert"
    CHECK = "check"


FLOWS = ("none", "pharmacy", "school")
OUTCOMES = ("green", "yellow", "red", "dcc_valid", "dcc_expired", "not_accepted",
            *(v.value for v in Verdict if v is not Verdict.OK), "clock_untrusted")
RULE_FIELDS = {"admit", "tone", "headline", "guidance", "alert_guard"}
PROFILE_FIELDS = {"title", "max_code_age", "accepted_issuers", "flow", "rule_sets", "anti_passback",
                  "fast_stream"}

# Why a code was refused, in plain words, whatever the venue.
REASONS: dict[str, LocalText] = {
    "bad_signature": LocalText("签名无效，可能伪造", "Signature invalid — possibly forged"),
    "revoked": LocalText("此码已被发码机构作废", "This code was revoked by its issuer"),
    "unknown_key": LocalText("未知发码机构", "Unknown issuer"),
    "key_not_valid": LocalText("发码机构密钥不可用于此码", "The issuer's key may not sign this code"),
    "malformed": LocalText("二维码损坏或格式错误", "Damaged or invalid code"),
    "unsupported": LocalText("不支持的二维码", "Not a supported health code"),
    "not_yet_valid": LocalText("签发时间晚于当前时间", "Issue time lies in the future"),
    "expired": LocalText("超过发码机构设定的有效期", "Past the validity period its issuer set"),
    "dcc_expired": LocalText("已过签发国设定的截止日期", "Past the end date its issuing country set"),
    "stale": LocalText("生成时间超过本场所允许的时长", "Generated longer ago than this venue allows"),
    "status_unverified": LocalText("纸质码状态名单缺失或过期",
                                   "Status list for printed cards missing or out of date"),
    "not_accepted": LocalText("本场所不接受该地区健康码",
                              "This venue does not accept codes from this region"),
    "clock_untrusted": LocalText("设备时钟异常", "Device clock wrong"),
    "rules": LocalText("证书未通过业务规则核验", "Failed a business rule check"),
}


@frozen
class Rule:
    """What a venue does with one outcome: admit or not, and the words shown."""

    admit: bool
    tone: Tone
    headline: LocalText
    guidance: LocalText
    alert_guard: bool


@frozen
class VenueProfile:
    """A venue's profile: which issuers it accepts, for how long a code lives, what each outcome shows."""

    name: str
    title: LocalText
    max_code_age: int
    accepted_issuers: tuple[str, ...]
    flow: str
    rules: dict[str, Rule]
    # Business rule sets (names in the signed rules list) that codes must pass here; docs/verification.md.
    rule_sets: tuple[str, ...] = ()
    # An admitted code is not admitted again within this many seconds, or (a "HH:MM" string) until that
    # local time of the same day; 0: never refused as a repeat (`scanner.gate.repeats`).
    anti_passback: int | str = 0
    # A stream of strangers: each result replaces the previous at once.
    fast_stream: bool = False

    def accepts(self, issuer: str) -> bool:
        known = self._judged.get(issuer)
        if known is None:
            known = _issuer_matcher(self.accepted_issuers)(issuer) is not None
            if len(self._judged) < 4096:  # the issuers of verified codes: the trust list's, and few
                self._judged[issuer] = known
        return known

    @cached_property
    def _judged(self) -> dict[str, bool]:
        """Issuers already matched against `accepted_issuers` (a match per scan cost a tenth of a decision)."""
        return {}


@cache
def _issuer_matcher(patterns: tuple[str, ...]) -> Callable[[str], re.Match[str] | None]:
    """All of a profile's issuer patterns as one compiled expression: `fnmatchcase` with every pattern,
    without compiling or trying each pattern on every scan."""
    return re.compile("|".join(fnmatch.translate(p) for p in patterns) or "(?!)").match


@frozen
class Decision:
    """A verified code's decision at a venue: the result, its outcome under the profile and what to show."""

    result: VerifyResult
    profile: str
    outcome: str
    admit: bool
    tone: Tone
    headline: LocalText
    guidance: LocalText
    reason: LocalText | None
    alert_guard: bool
    clock_trusted: bool = True

    def to_json(self) -> JsonObject:
        out = self.result.to_json()
        out.update(admit=self.admit, profile=self.profile, outcome=self.outcome, tone=self.tone._value_,
                   headline=self.headline.to_json(), guidance=self.guidance.to_json(),
                   reason=self.reason.to_json() if self.reason else None, alert_guard=self.alert_guard,
                   clock_trusted=self.clock_trusted,
                   message=f"{self.headline.en} / {self.headline.zh}"
                   + (f" ({self.reason.en})" if self.reason else ""))
        return out


# --- loading and validating profile data ------------------------------------------------------
def _builtin_data() -> dict[str, JsonObject]:
    """Every built-in profile file's data by name, read afresh (callers may keep what they are given)."""
    data: dict[str, JsonObject] = json.loads(BUILTIN_JSON.read_text(encoding="utf-8"))
    return data


@cache
def builtin_names() -> tuple[str, ...]:
    return tuple(sorted(name for name in _builtin_data() if not name.startswith("_")))


def _text_problem(key: str, value: Json) -> str | None:
    if not isinstance(value, dict) or set(value) != {"zh", "en"} or not all(
            isinstance(v, str) and v for v in value.values()):
        return f"{key}: expected {{ zh = \"…\", en = \"…\" }}"
    return None


def _layer_problems(prefix: str, layer: JsonObject, *, allow_base: bool) -> list[str]:
    """Every problem in one profile layer (a built-in file or a config override), naming the key."""
    problems = []
    for key in layer:
        if key not in ("profile", "outcomes") and not (allow_base and key == "base"):
            problems.append(f"{prefix}.{key}: unknown key (expected profile, outcomes"
                            + (", base" if allow_base else "") + ")")
    if allow_base and "base" in layer and layer["base"] not in builtin_names():
        problems.append(f"{prefix}.base: {layer['base']!r} is not a built-in profile "
                        f"({', '.join(builtin_names())})")
    prof = layer.get("profile", {})
    if not isinstance(prof, dict):
        return [*problems, f"{prefix}.profile: expected a table"]
    for key, value in prof.items():
        k = f"{prefix}.profile.{key}"
        if key not in PROFILE_FIELDS:
            problems.append(f"{k}: unknown key (expected {', '.join(sorted(PROFILE_FIELDS))})")
        elif key == "title":
            if err := _text_problem(k, value):
                problems.append(err)
        elif key == "max_code_age":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.append(f"{k}: expected a whole number of seconds >= 0, got {value!r}")
        elif key == "accepted_issuers":
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                problems.append(f"{k}: expected a non-empty list of issuer patterns like \"CN-*\"")
        elif key == "rule_sets":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                problems.append(f"{k}: expected a list of rule set names like \"3G\"")
        elif key == "flow" and value not in FLOWS:
            problems.append(f"{k}: {value!r} is not one of {', '.join(FLOWS)}")
        elif key == "anti_passback" and not _anti_passback_ok(value):
            problems.append(f"{k}: expected whole seconds 0 to {MAX_ANTI_PASSBACK_S} (a day) or a local time "
                            f"\"HH:MM\", got {value!r}")
        elif key == "fast_stream" and not isinstance(value, bool):
            problems.append(f"{k}: expected true or false, got {value!r}")
    outcomes = layer.get("outcomes", {})
    if not isinstance(outcomes, dict):
        return [*problems, f"{prefix}.outcomes: expected a table"]
    for outcome, rule in outcomes.items():
        k = f"{prefix}.outcomes.{outcome}"
        if outcome not in OUTCOMES:
            problems.append(f"{k}: unknown outcome (expected one of {', '.join(OUTCOMES)})")
            continue
        if not isinstance(rule, dict):
            problems.append(f"{k}: expected a table")
            continue
        for field, value in rule.items():
            fk = f"{k}.{field}"
            if field not in RULE_FIELDS:
                problems.append(f"{fk}: unknown key (expected {', '.join(sorted(RULE_FIELDS))})")
            elif field in ("admit", "alert_guard") and not isinstance(value, bool):
                problems.append(f"{fk}: expected true or false, got {value!r}")
            elif field == "tone" and value not in [t.value for t in Tone]:
                problems.append(f"{fk}: {value!r} is not one of {', '.join(t.value for t in Tone)}")
            elif field in ("headline", "guidance") and (err := _text_problem(fk, value)):
                problems.append(err)
    return problems


# The longest anti-passback window in seconds: a gate remembers admissions for a day (`scanner.gate.repeats`),
# so a longer one would end there without a word.
MAX_ANTI_PASSBACK_S = 86400


def _anti_passback_ok(value: Json) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return 0 <= value <= MAX_ANTI_PASSBACK_S
    # ASCII digits only: str.isdigit() is also true of "²", which int() refuses.
    digits = value.replace(":", "") if isinstance(value, str) else ""
    if isinstance(value, str) and len(value) == 5 and value[2] == ":" and digits.isascii() and digits.isdigit():
        return int(value[:2]) < 24 and int(value[3:]) < 60
    return False


def profile_problems(overrides: dict[str, JsonObject]) -> list[str]:
    """Problems in the config file's `[profiles.NAME]` tables, each naming its key."""
    problems = []
    for name, layer in overrides.items():
        prefix = f"profiles.{name}"
        if not isinstance(layer, dict):
            problems.append(f"{prefix}: expected a table")
            continue
        if name not in builtin_names() and "base" not in layer:
            problems.append(f"{prefix}: not a built-in profile ({', '.join(builtin_names())}); "
                            "a new profile needs base = \"<built-in name>\"")
        problems.extend(_layer_problems(prefix, layer, allow_base=True))
    return problems


def _merge(into: JsonObject, layer: JsonObject) -> None:
    for section in ("profile", "outcomes"):
        for key, value in layer.get(section, {}).items():
            if section == "outcomes":
                into[section].setdefault(key, {}).update(value)
            else:
                into[section][key] = value


def unknown_profile_problem(name: str, overrides: dict[str, JsonObject]) -> str | None:
    """`venue.profile`'s problem when `name` is neither built in nor defined by `[profiles.NAME]`."""
    if name in builtin_names() or name in overrides:
        return None
    return (f"venue.profile: unknown profile {name!r} (built-in: {', '.join(builtin_names())}; "
            "or one defined in [profiles.NAME])")


def load_profile(name: str, overrides: dict[str, JsonObject] | None = None) -> VenueProfile:
    """The named profile: built-in data, then the config file's overrides. Unknown names are errors."""
    overrides = overrides or {}
    problems = profile_problems({name: overrides[name]} if name in overrides else {})
    if unknown := unknown_profile_problem(name, overrides):
        problems.append(unknown)
    if problems:
        raise ConfigError("<profiles>", problems)
    layer = overrides.get(name, {})
    base_name = layer.get("base", name) if name not in builtin_names() else name
    merged: JsonObject = {"profile": {}, "outcomes": {}}
    builtin = _builtin_data()
    _merge(merged, builtin["_base"])
    _merge(merged, builtin[base_name])
    _merge(merged, layer)
    p = merged["profile"]
    rules = {}
    for outcome in OUTCOMES:
        r = merged["outcomes"][outcome]
        rules[outcome] = Rule(admit=r["admit"], tone=Tone(r["tone"]), headline=LocalText(**r["headline"]),
                              guidance=LocalText(**r["guidance"]), alert_guard=r["alert_guard"])
    return VenueProfile(name=name, title=LocalText(**p["title"]), max_code_age=p["max_code_age"],
                        accepted_issuers=tuple(p["accepted_issuers"]), flow=p["flow"], rules=rules,
                        rule_sets=tuple(p.get("rule_sets", ())), anti_passback=p["anti_passback"],
                        fast_stream=p["fast_stream"])


def builtin_problems() -> list[str]:
    """Problems in the shipped profile files themselves (a test keeps this empty)."""
    builtin = _builtin_data()
    problems = _layer_problems("_base", builtin["_base"], allow_base=False)
    base = builtin["_base"].get("outcomes", {})
    for outcome in OUTCOMES:
        missing = RULE_FIELDS - set(base.get(outcome, {}))
        if missing:
            problems.append(f"_base.outcomes.{outcome}: missing {', '.join(sorted(missing))}")
    for name in builtin_names():
        problems.extend(_layer_problems(name, builtin[name], allow_base=False))
    return problems


# --- deciding -------------------------------------------------------------------------------------
# A global, not `Verdict.OK`: an enum class's attributes are looked up through a slow hook (Python 3.11).
_OK = Verdict.OK


# Refusals that hold whatever the time: what the code is (damaged, unknown issuer, forged, revoked).
_CLOCK_FREE_REFUSALS = frozenset({Verdict.UNSUPPORTED, Verdict.MALFORMED, Verdict.UNKNOWN_KEY, Verdict.BAD_SIGNATURE,
                                  Verdict.REVOKED})


def outcome_of(result: VerifyResult, profile: VenueProfile, clock_trusted: bool = True) -> str:
    outcome = _outcome(result, profile)
    if clock_trusted:
        return outcome
    # Admitting at all, expiry, staleness, business rules and status-list freshness hang on the clock: the guard
    # checks by hand. A refusal no clock can change (a forged, revoked, red or yellow code) stays what it is, so
    # the screen never offers the guard an Admit for a code it would refuse at any time.
    if result.verdict in _CLOCK_FREE_REFUSALS or (
            result.verdict is _OK and outcome in ("red", "yellow") and not profile.rules[outcome].admit):
        return outcome
    return "clock_untrusted"


def _outcome(result: VerifyResult, profile: VenueProfile) -> str:
    if result.verdict is not _OK:
        # An EU certificate cannot be refreshed like a health code: its expiry has words of its own.
        if result.verdict is Verdict.EXPIRED and result.dcc is not None:
            return "dcc_expired"
        return result.verdict._value_  # not `.value`, a property written in Python (this runs per code)
    # A DCC's issuer is a country code; profiles name DCC countries as "HC1:DE" (or "HC1:*").
    issuer = result.issuer if result.dcc is None or result.issuer is None else f"HC1:{result.issuer}"
    if issuer is None or not profile.accepts(issuer):
        return "not_accepted"
    if result.dcc is not None:
        return "dcc_valid"
    assert result.status is not None
    return result.status._value_


def decide(result: VerifyResult, profile: VenueProfile, *, clock_trusted: bool = True) -> Decision:
    outcome = outcome_of(result, profile, clock_trusted)
    rule = profile.rules[outcome]
    # A refusal by a business rule gives that rule's own words.
    reason = result.failed_rule if outcome == "rules" and result.failed_rule else REASONS.get(outcome)
    # Fields in order, without keywords (a third cheaper; this runs for every code checked).
    return Decision(result, profile.name, outcome, rule.admit, rule.tone, rule.headline, rule.guidance, reason,
                    rule.alert_guard, clock_trusted)
