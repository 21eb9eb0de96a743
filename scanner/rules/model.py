"""Business rules in the EU DCC rule format, and the rule book a rules list carries. Parsing only, pure.

An EU rule is a JSON object: Identifier (`VR-DE-0001`; GR general, VR vaccination, TR test, RR recovery,
IR invalidation, and HR for this project's HCC1 regional rules), Type (Acceptance or Invalidation),
Country, Region (optional), Version, SchemaVersion, Engine ("CERTLOGIC"), EngineVersion, CertificateType
(General, Vaccination, Test, Recovery; HCC1 here), Description ([{lang, desc}], English required),
ValidFrom, ValidTo, AffectedFields and Logic (a CertLogic expression, compiled when parsed).

A rule book is what a signed rules list carries (docs/format.md, "Rules list"): the acceptance country,
the rules, the named rule sets a venue profile chooses from (name -> rule identifiers), and the value
sets the rules see. Every problem is a `RulesError` naming the rule and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from keys.jsontypes import Json, JsonObject
from keys.localtext import LocalText
from scanner.errors import CertLogicError, RulesError
from scanner.rules.certlogic import Evaluator, compile_expression
from scanner.rules.datetimes import parse_date_time

IDENTIFIER = re.compile(r"(GR|VR|TR|RR|IR|HR)-[A-Z]{2}-\d{4}", re.ASCII)
SEMVER = re.compile(r"(\d{1,9})\.(\d{1,9})\.(\d{1,9})", re.ASCII)
COUNTRY = re.compile(r"[A-Z]{2}", re.ASCII)
REGION = re.compile(r"[A-Z0-9]{0,5}", re.ASCII)
RULE_TYPES = ("Acceptance", "Invalidation")
CERTIFICATE_TYPES = ("General", "Vaccination", "Test", "Recovery", "HCC1")
ENGINE = "CERTLOGIC"
RULE_SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", re.ASCII)


@dataclass(frozen=True)
class BusinessRule:
    identifier: str
    type: str
    country: str
    region: str
    version: tuple[int, int, int]
    schema_version: str
    engine_version: str
    certificate_type: str
    descriptions: dict[str, str]
    valid_from_ms: int
    valid_to_ms: int
    affected_fields: tuple[str, ...]
    logic: Json
    evaluator: Evaluator = field(compare=False, repr=False)

    @property
    def description(self) -> LocalText:
        """What the screen shows when the rule fails: Chinese when the rule has it, else English."""
        en = self.descriptions["en"]
        return LocalText(self.descriptions.get("zh", en), en)

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def _text(rule: JsonObject, key: str, where: str, pattern: re.Pattern[str] | None = None,
          choices: tuple[str, ...] = ()) -> str:
    value = rule.get(key)
    if not isinstance(value, str):
        raise RulesError(f"{where}: {key} missing or not a string")
    if pattern is not None and not pattern.fullmatch(value):
        raise RulesError(f"{where}: {key} {value[:40]!r} is not of the form {pattern.pattern}")
    if choices and value not in choices:
        raise RulesError(f"{where}: {key} {value[:40]!r} is not one of {', '.join(choices)}")
    return value


def _instant(rule: JsonObject, key: str, where: str) -> int:
    value = _text(rule, key, where)
    try:
        return parse_date_time(value).ms
    except CertLogicError as e:
        raise RulesError(f"{where}: {key}: {e}") from None


def _descriptions(value: Json, where: str) -> dict[str, str]:
    if not isinstance(value, list) or not value:
        raise RulesError(f"{where}: Description must be a non-empty list of {{lang, desc}}")
    found: dict[str, str] = {}
    for i, item in enumerate(value):
        if not (isinstance(item, dict) and isinstance(item.get("lang"), str) and isinstance(item.get("desc"), str)
                and item["desc"].strip()):
            raise RulesError(f"{where}: Description[{i}] is not {{lang, desc}} with a non-empty desc")
        found.setdefault(item["lang"].lower(), item["desc"])
    if "en" not in found:
        raise RulesError(f"{where}: Description has no English (en) text")
    return found


def parse_rule(rule: Json, source: str = "rule") -> BusinessRule:
    """One rule in the EU format, with its Logic compiled; `RulesError` on any problem."""
    if not isinstance(rule, dict):
        raise RulesError(f"{source}: a rule is a JSON object")
    ident = rule.get("Identifier")
    where = f"{source} {ident}" if isinstance(ident, str) else source
    identifier = _text(rule, "Identifier", where, IDENTIFIER)
    major, minor, patch = (int(part) for part in _text(rule, "Version", where, SEMVER).split("."))
    _text(rule, "Engine", where, choices=(ENGINE,))
    region = rule.get("Region") or ""
    if not isinstance(region, str) or not REGION.fullmatch(region):
        raise RulesError(f"{where}: Region is not up to 5 capital letters or digits")
    fields = rule.get("AffectedFields")
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise RulesError(f"{where}: AffectedFields must be a list of strings")
    valid_from, valid_to = _instant(rule, "ValidFrom", where), _instant(rule, "ValidTo", where)
    if valid_to <= valid_from:
        raise RulesError(f"{where}: ValidTo is not after ValidFrom")
    if "Logic" not in rule:
        raise RulesError(f"{where}: Logic missing")
    try:
        evaluator = compile_expression(rule["Logic"])
    except CertLogicError as e:
        raise RulesError(f"{where}: Logic: {e}") from None
    return BusinessRule(
        identifier=identifier, type=_text(rule, "Type", where, choices=RULE_TYPES),
        country=_text(rule, "Country", where, COUNTRY), region=region,
        version=(major, minor, patch),
        schema_version=_text(rule, "SchemaVersion", where, SEMVER),
        engine_version=_text(rule, "EngineVersion", where, SEMVER),
        certificate_type=_text(rule, "CertificateType", where, choices=CERTIFICATE_TYPES),
        descriptions=_descriptions(rule.get("Description"), where),
        valid_from_ms=valid_from, valid_to_ms=valid_to, affected_fields=tuple(fields),
        logic=rule["Logic"], evaluator=evaluator)


@dataclass(frozen=True)
class RuleSet:
    name: str
    title: LocalText
    identifiers: tuple[str, ...]


@dataclass(frozen=True)
class RuleBook:
    """The content of a rules list: rules for one country, the named sets of them, and the value sets."""

    country: str
    rules: tuple[BusinessRule, ...]
    rule_sets: dict[str, RuleSet]
    value_sets: dict[str, list[str]]
    # Per combination of set names: each identifier's versions, newest first (filled by the engine).
    versions_cache: dict[tuple[str, ...], tuple[tuple[BusinessRule, ...], ...]] = field(
        default_factory=dict, compare=False, repr=False)

    def versions_of(self, set_names: tuple[str, ...]) -> tuple[tuple[BusinessRule, ...], ...]:
        """For every identifier in these sets (in identifier order), its versions, newest first."""
        found = self.versions_cache.get(set_names)
        if found is None:
            wanted = {i for name in set_names if name in self.rule_sets for i in self.rule_sets[name].identifiers}
            by_id: dict[str, list[BusinessRule]] = {}
            for rule in self.rules:
                if rule.identifier in wanted:
                    by_id.setdefault(rule.identifier, []).append(rule)
            found = tuple(tuple(sorted(by_id[i], key=lambda r: r.version, reverse=True)) for i in sorted(by_id))
            self.versions_cache[set_names] = found
        return found


def _rule_set(name: Json, entry: Json, known: set[str], source: str) -> RuleSet:
    where = f"{source}: rule_sets.{name}"
    if not isinstance(name, str) or not RULE_SET_NAME.fullmatch(name):
        raise RulesError(f"{source}: rule set name {str(name)[:40]!r} is not letters, digits, '-', '_' or '.'")
    if not isinstance(entry, dict):
        raise RulesError(f"{where}: expected {{title, rules}}")
    ids = entry.get("rules")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise RulesError(f"{where}.rules must be a list of rule identifiers")
    unknown = sorted(set(ids) - known)
    if unknown:
        raise RulesError(f"{where}.rules names rules the list does not carry: {', '.join(unknown[:5])}")
    title = entry.get("title") or {}
    if not isinstance(title, dict):
        raise RulesError(f"{where}.title must be {{zh, en}}")
    en: str = title["en"] if isinstance(title.get("en"), str) else name
    zh: str = title["zh"] if isinstance(title.get("zh"), str) else en
    return RuleSet(name, LocalText(zh, en), tuple(dict.fromkeys(ids)))


def parse_rule_book(payload: JsonObject, source: str) -> RuleBook:
    """The rules, rule sets and value sets of a rules list's payload; `RulesError` names what is wrong."""
    country = payload.get("country")
    if not isinstance(country, str) or not COUNTRY.fullmatch(country):
        raise RulesError(f"{source}: country missing or not two capital letters")
    raw_rules = payload.get("rules")
    if not isinstance(raw_rules, list):
        raise RulesError(f"{source}: rules missing or not a list")
    rules = tuple(parse_rule(r, f"{source}: rules[{i}]") for i, r in enumerate(raw_rules))
    seen: set[tuple[str, tuple[int, int, int]]] = set()
    for r in rules:
        if r.country != country:
            raise RulesError(f"{source}: rule {r.identifier} is for {r.country}, the list for {country}")
        if (r.identifier, r.version) in seen:
            raise RulesError(f"{source}: rule {r.identifier} version {r.version_text} appears twice")
        seen.add((r.identifier, r.version))
    sets_in = payload.get("rule_sets")
    if not isinstance(sets_in, dict):
        raise RulesError(f"{source}: rule_sets missing or not an object")
    known = {r.identifier for r in rules}
    rule_sets = {name: _rule_set(name, entry, known, source) for name, entry in sets_in.items()}
    value_sets_in = payload.get("value_sets", {})
    if not isinstance(value_sets_in, dict) or not all(
            isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value_sets_in.values()):
        raise RulesError(f"{source}: value_sets must map each value set id to a list of codes")
    return RuleBook(country, rules, rule_sets, {k: list(v) for k, v in value_sets_in.items()})
