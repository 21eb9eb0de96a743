"""Which rules apply to a code, and whether it passes them. Pure: the rule book, the code and the time come in.

Selection, as the EU verifier apps do it: a rule applies when it belongs to one of the venue's rule sets,
is for the book's country (and for no region, or the venue's region), its certificate type is the code's
or "General" (DCCs only; HCC1 codes get the "HCC1" rules), and it is in force: of an identifier's
versions, the highest whose ValidFrom has passed is the one, and only while its ValidTo has not.

A code passes a rule when the Logic evaluates to exactly `true` on
`{"payload": …, "external": {"validationClock", "valueSets", "countryCode", "exp", "iat"}}`; anything
else, an evaluation error included (the specification's advice), fails it. Times reach the rules as ISO
strings ("…Z"), so `plusTime` takes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from keys.jsontypes import Json, JsonObject
from scanner.errors import CertLogicError
from scanner.rules.datetimes import DateTime
from scanner.rules.model import BusinessRule, RuleBook

# The DCC's type as `VerifyResult.dcc.type` names it -> the rules' CertificateType.
CERTIFICATE_TYPE = {"vaccination": "Vaccination", "test": "Test", "recovery": "Recovery", "hcc1": "HCC1"}


@dataclass(frozen=True)
class RuleFailure:
    rule: BusinessRule
    # The evaluation error, when the rule failed by one rather than by evaluating to something not true.
    error: str | None = None

    @property
    def reason(self) -> str:
        why = f" (error: {self.error})" if self.error else ""
        return f"rule {self.rule.identifier} {self.rule.version_text} failed: {self.rule.descriptions['en']}{why}"


@dataclass(frozen=True)
class RulesOutcome:
    applied: tuple[BusinessRule, ...]
    failures: tuple[RuleFailure, ...]
    # Rule sets the venue asked for that the book does not have: the code cannot be judged.
    missing_sets: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures and not self.missing_sets


def iso_seconds(t: float) -> str:
    return DateTime(int(t * 1000)).iso()


def select_rules(book: RuleBook, set_names: Iterable[str], certificate_type: str, now: float,
                 region: str = "") -> tuple[BusinessRule, ...]:
    """The rules in force for this code type at `now`, one version per identifier, in identifier order."""
    types = {certificate_type} if certificate_type == "HCC1" else {certificate_type, "General"}
    now_ms = int(now * 1000)
    selected = []
    for versions in book.versions_of(tuple(set_names)):
        rule = next((r for r in versions if r.valid_from_ms <= now_ms), None)
        if (rule is not None and now_ms < rule.valid_to_ms and rule.certificate_type in types
                and rule.country == book.country and rule.region in ("", region)):
            selected.append(rule)
    return tuple(selected)


def rule_data(book: RuleBook, payload: Mapping[str, Json], now: float, iat: float | None,
              exp: float | None) -> JsonObject:
    """The data every rule is evaluated on."""
    return {"payload": payload,
            "external": {"validationClock": iso_seconds(now), "valueSets": book.value_sets,
                         "countryCode": book.country,
                         "exp": iso_seconds(exp) if exp is not None else None,
                         "iat": iso_seconds(iat) if iat is not None else None}}


def run_rules(rules: Iterable[BusinessRule], data: Json) -> tuple[RuleFailure, ...]:
    failures = []
    for rule in rules:
        try:
            result = rule.evaluator(data)
        except CertLogicError as e:
            failures.append(RuleFailure(rule, str(e)))
            continue
        if result is not True:
            failures.append(RuleFailure(rule))
    return tuple(failures)


def evaluate_book(book: RuleBook, set_names: Iterable[str], certificate_type: str, payload: Mapping[str, Json],
                  now: float, *, iat: float | None, exp: float | None, region: str = "") -> RulesOutcome:
    """Select the venue's rules for this code and run them all (every failure is reported)."""
    names = tuple(set_names)
    rules = select_rules(book, names, certificate_type, now, region)
    failures = run_rules(rules, rule_data(book, payload, now, iat, exp))
    missing = tuple(n for n in names if n not in book.rule_sets)
    return RulesOutcome(rules, failures, missing)
