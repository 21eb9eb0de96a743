"""Business rules inside the checking path: a verified code that fails one of the venue's rules gets the
verdict `rules`, and the failed rule's description becomes what the screen says. Pure.

Rules judge only codes that would otherwise be admitted: a code that failed verification, or an HCC1
code whose status is yellow or red, keeps its own verdict (a red code stays an alert, not a rule
refusal). With no rules list held, or a profile naming no rule sets, rules are not applied.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from keys.jsontypes import JsonObject
from keys.localtext import LocalText
from scanner.rules.engine import CERTIFICATE_TYPE, evaluate_book
from scanner.rules.model import RuleBook
from scanner.verify import Status, Verdict, VerifyResult


def rule_subject(result: VerifyResult) -> tuple[str, JsonObject] | None:
    """(CertificateType, payload) the rules see for a verified code, or None when rules do not apply to it.

    A DCC is seen as its hcert (`ver`, `nam`, `dob`, `v`/`t`/`r`) under the CertificateType of its type;
    HCC1 codes are seen as `{"iss", "type", "status"}`. Times are `external.iat` / `external.exp`.
    """
    if result.dcc is not None:
        kind = CERTIFICATE_TYPE.get(result.dcc.type or "")
        return (kind, result.dcc.hcert) if kind else None
    if result.format == "HCC1":
        return "HCC1", {"iss": result.issuer,
                        "type": result.code_type.value if result.code_type else None,
                        "status": result.status.value if result.status else None}
    return None


def apply_rules(result: VerifyResult, book: RuleBook | None, rule_sets: Sequence[str], now: float, *,
                region: str = "") -> VerifyResult:
    """`result`, or a copy with verdict RULES, `failed_rule` and every failure in `reasons`."""
    if book is None or not rule_sets or not result.ok or result.status not in (None, Status.GREEN):
        return result
    subject = rule_subject(result)
    if subject is None:
        return result
    certificate_type, payload = subject
    outcome = evaluate_book(book, rule_sets, certificate_type, payload, now, iat=result.iat, exp=result.exp,
                            region=region)
    if outcome.passed:
        return result
    if outcome.missing_sets:
        names = ", ".join(outcome.missing_sets)
        text = LocalText(f"规则列表中没有本场所的规则集 {names}",
                         f"The rules list has no rule set {names} for this venue")
        reasons: tuple[str, ...] = (f"rule set(s) {names} not in the rules list: the code cannot be judged",)
    else:
        text = outcome.failures[0].rule.description
        reasons = tuple(f.reason for f in outcome.failures)
    return dataclasses.replace(result, verdict=Verdict.RULES, failed_rule=text, reasons=reasons)
