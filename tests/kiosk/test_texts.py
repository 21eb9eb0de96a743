"""No repeated lines: for every profile and every outcome, headline, guidance and reason each say something new.

The headline says what happened, the reason why (in plain words), the guidance what to do. A line that
repeats another ("Code expired — Code expired — refresh it") wastes the screen a guard reads at a metre.
"""

from __future__ import annotations

import dataclasses
import re
from itertools import combinations

import pytest

from keys.localtext import LocalText
from scanner.policy import OUTCOMES, REASONS, builtin_names, decide, load_profile
from scanner.verify import Status, Verdict, VerifyResult
from ui.model.view import result_view

OTHER_FORMATS = ("dcc_valid", "dcc_expired")
# Words that carry no meaning of their own on these screens.
STOP_WORDS = {"a", "an", "the", "and", "or", "to", "of", "for", "this", "is", "it", "its", "by", "in", "on",
              "at", "code", "codes", "health", "please", "your", "be", "may", "not", "here", "then", "with"}


def result_for(outcome: str) -> tuple[VerifyResult, bool]:
    """A verification result that gives `outcome` at a venue accepting CN-* (and whether the clock is trusted)."""
    if outcome == "clock_untrusted":
        return VerifyResult(Verdict.OK, Status.GREEN, issuer="CN-11"), False
    if outcome == "not_accepted":
        return VerifyResult(Verdict.OK, Status.GREEN, issuer="XX-99"), True
    if outcome in ("green", "yellow", "red"):
        return VerifyResult(Verdict.OK, Status(outcome), issuer="CN-11"), True
    return VerifyResult(Verdict(outcome), issuer="CN-11"), True


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if w not in STOP_WORDS and len(w) > 1}


def repeats(a: str, b: str, lang: str) -> str | None:
    """Why `a` and `b` say the same thing, or None."""
    na, nb = (re.sub(r"[\W_]+", "", t.lower()) for t in (a, b))
    if na in nb or nb in na:
        return "one contains the other"
    if lang == "zh":
        # Four characters in a row in both lines is a repeated phrase ("发码机构", "居家隔离").
        for i in range(len(na) - 3):
            if na[i:i + 4] in nb:
                return f"both say {na[i:i + 4]!r}"
        return None
    wa, wb = content_words(a), content_words(b)
    shared = wa & wb
    if shared and len(shared) * 2 >= min(len(wa), len(wb)):
        return f"both say {', '.join(sorted(shared))}"
    return None


@pytest.mark.parametrize("profile", builtin_names())
def test_headline_guidance_and_reason_never_repeat(profile: str) -> None:
    p = load_profile(profile)
    problems = []
    for outcome in OUTCOMES:
        if outcome in OTHER_FORMATS:
            # An outcome of another code format (an EU DCC): its rule's words, as `decide` would give them.
            rule = p.rules[outcome]
            d = dataclasses.replace(decide(*result_for("green")[:1], p), outcome=outcome, headline=rule.headline,
                                    guidance=rule.guidance, reason=REASONS.get(outcome))
        else:
            result, trusted = result_for(outcome)
            d = decide(result, p, clock_trusted=trusted)
        assert d.outcome == outcome
        v = result_view(d)
        lines = [("headline", v.headline), ("guidance", v.guidance)] + ([("reason", v.reason)] if v.reason else [])
        for (na, ta), (nb, tb) in combinations(lines, 2):
            for lang in ("zh", "en"):
                why = repeats(getattr(ta, lang), getattr(tb, lang), lang)
                if why:
                    problems.append(f"{profile}/{outcome} {na} vs {nb} ({lang}): {why}: "
                                    f"{getattr(ta, lang)!r} / {getattr(tb, lang)!r}")
    assert not problems, "\n".join(problems)


def test_a_reason_an_operator_repeats_in_the_guidance_is_shown_once() -> None:
    overrides = {"mall": {"outcomes": {"expired": {
        "guidance": {"zh": "已超过发码机构设定的有效期", "en": "Past the validity period its issuer set"}}}}}
    d = decide(VerifyResult(Verdict.EXPIRED, issuer="CN-11"), load_profile("mall", overrides))
    assert d.reason is not None and result_view(d).reason is None


def test_school_red_says_what_the_guard_does_and_promises_no_nurse() -> None:
    d = decide(VerifyResult(Verdict.OK, Status.RED, issuer="CN-11"), load_profile("school"))
    g = result_view(d).guidance
    assert "已通知" not in g.zh and "is called" not in g.en
    assert "校医" in g.zh and "nurse" in g.en


def test_pharmacy_red_says_do_not_sell() -> None:
    d = decide(VerifyResult(Verdict.OK, Status.RED, issuer="CN-11"), load_profile("pharmacy"))
    v = result_view(d)
    assert "请勿售药" in v.headline.zh and "do not sell" in v.headline.en.lower()
    assert isinstance(v.headline, LocalText) and not v.admit
