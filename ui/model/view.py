"""What a decision looks like on the screen, decided once, without Qt: colour, icon and every line.

The kiosk's widgets only paint a `ResultView` / `GroupView`; tests and the demo read the same objects.
Colour is never the only signal: each kind has its own icon and its own words, and a refusal always
carries the reason in plain words.

Kinds:
  * `pass`    green, ✓ — admitted;
  * `yellow`  amber, ! (✓ if a venue admits yellow) — a valid yellow code;
  * `red`     red, ✕ — a valid red code;
  * `invalid` dark violet, ✕ — the code failed verification (forged, revoked, expired, damaged…);
  * `check`   slate blue, ? — the guard must check by hand (issuer not accepted, untrusted clock…).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keys.localtext import LocalText
from scanner.gate.texts import issued_ago
from ui.model.dccview import DccView, dcc_view

if TYPE_CHECKING:
    from scanner.codes.base import Guardian
    from scanner.gate.shown import Shown
    from scanner.policy import Decision

# Verdicts reached before the signature was checked: the code's name and issuer are only claims.
UNSIGNED_VERDICTS = ("unsupported", "malformed", "unknown_key", "key_not_valid", "bad_signature")
KINDS = ("pass", "yellow", "red", "invalid", "check")

# (background, text) per kind. Text contrast is at least 4.5:1 on each background (WCAG AA).
COLOURS: dict[str, tuple[str, str]] = {
    "pass": ("#1b7a3a", "#ffffff"),
    "yellow": ("#f5c400", "#1a1a1a"),
    "red": ("#c0221c", "#ffffff"),
    "invalid": ("#4b2a6e", "#ffffff"),
    "check": ("#37556e", "#ffffff"),
}
ICONS = {"pass": "✓", "yellow": "!", "red": "✕", "invalid": "✕", "check": "?"}
IDLE_COLOURS = ("#14202b", "#ffffff")
ALERT_BORDER = "#ff2a1a"
AMBER = "#f0a000"

PRINTED_CARD = LocalText("纸质码", "printed card")
PROMPT = LocalText("请出示健康码", "Please show your health code")
# A kiosk without a camera (`camera.source = "none"`): said plainly, so no one looks for a preview.
SCANNER_ONLY = LocalText("本机由扫码器读码：请将健康码对准扫码器",
                         "Codes are read by the scanner: hold your code to it")
GROUP_ALL_ADMITTED = LocalText("全部通过", "Everyone may enter")
UNVERIFIED = LocalText("未核实", "unverified")
GROUP_NOT_ALL = LocalText("有人不能进入 请勿放行", "Not everyone may enter — stop the group")
ACK_HINT = LocalText("工作人员：按住屏幕1秒或按确认键", "Staff: hold the screen 1 s or press the guard key")
ACK_PIN_HINT = LocalText("工作人员：按住屏幕或按确认键，输入密码确认",
                         "Staff: hold or press the guard key, then the PIN")
GUARD_HINT = LocalText("工作人员核验后选择：放行 / 拒绝", "Staff: check, then Admit or Deny")
ADMIT = LocalText("放行", "Admit")
DENY = LocalText("拒绝", "Deny")


def registered_note(drugs: Sequence[LocalText]) -> LocalText:
    """The clerk's confirmation that a pharmacy sale was logged."""
    if not drugs:
        return LocalText("已登记（无登记类药品）", "Registered (no listed drugs)")
    return LocalText("已登记：" + "、".join(d.zh for d in drugs), "Registered: " + ", ".join(d.en for d in drugs))


@dataclass(frozen=True)
class ResultView:
    kind: str
    colour: str
    text_colour: str
    icon: str
    admit: bool
    alert: bool
    headline: LocalText
    guidance: LocalText
    reason: LocalText | None
    # The masked name from the code (display only, never logged) and the issuing region's name.
    person: str | None
    region: LocalText | None
    guardian: LocalText | None
    card: bool
    verdict: str
    outcome: str
    # Identifies the code for debounce and grouping; None for codes that could not be decoded.
    code_key: str
    # "签发于 3 分钟前 / issued 3 min ago", for a signed code: a screenshot of an old code shows its age.
    issued: LocalText | None = None
    # An EU DCC's date of birth, type, key fact and country (ui/model/dccview.py).
    dcc: DccView | None = None

    @property
    def region_text(self) -> str | None:
        return f"{self.region.zh} {self.region.en}" if self.region else None

    def lines(self) -> list[str]:
        """Every text the result shows, in reading order (for the demo's console and for tests)."""
        out = [self.icon, self.headline.zh, self.headline.en, self.guidance.zh, self.guidance.en]
        if self.reason:
            out += [self.reason.zh, self.reason.en]
        out += [t for t in (self.person, self.region_text) if t]
        if self.guardian:
            out += [self.guardian.zh, self.guardian.en]
        if self.card:
            out.append(f"{PRINTED_CARD.zh} / {PRINTED_CARD.en}")
        if self.issued:
            out.append(f"{self.issued.zh} / {self.issued.en}")
        if self.dcc:
            out += self.dcc.lines()
        return out


def kind_of(decision: Decision) -> str:
    r = decision.result
    if decision.outcome in ("clock_untrusted", "not_accepted"):
        return "check"
    if r.verdict.value != "ok":
        return "check" if decision.tone.value == "check" else "invalid"
    # A valid code keeps its own colour whatever the venue does with it (a hospital sends yellow codes
    # to the fever clinic: still a yellow screen, with the hospital's words).
    status = r.status.value if r.status is not None else None
    if status in ("yellow", "red"):
        return status
    if decision.admit:
        return "pass"
    return "check" if decision.tone.value == "check" else "red"


def guardian_line(guardian: Guardian) -> LocalText:
    return LocalText(f"由 {guardian.name}（{guardian.relation_zh}）出示",
                     f"Shown by {guardian.name} ({guardian.relation_name})")


def _plain(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _unless_repeated(reason: LocalText | None, *others: LocalText) -> LocalText | None:
    """The reason, unless a headline or guidance (an operator's override, say) already says it."""
    if reason is None:
        return None
    for other in others:
        for lang in ("zh", "en"):
            a, b = _plain(getattr(reason, lang)), _plain(getattr(other, lang))
            if a in b or b in a:
                return None
    return reason


def result_view(decision: Decision, issued_ago_s: float | None = None) -> ResultView:
    """The screen for one `scanner.policy.Decision` (and how long ago its code was issued, when known)."""
    r = decision.result
    kind = kind_of(decision)
    colour, text = COLOURS[kind]
    icon = ICONS[kind]
    if kind in ("yellow", "red") and decision.admit:
        icon = "✓"
    signed = r.verdict.value not in UNSIGNED_VERDICTS
    key = (r.code_id.hex() if r.code_id else "") + ":" + (r.subject.hex() if r.subject else "")
    if r.dcc is not None:
        # A DCC has no code id: its certificate identifier (UCI) and issue time name it.
        key = f"dcc:{r.dcc.facts.get('uci', '')}:{r.iat}"
    return ResultView(
        kind=kind, colour=colour, text_colour=text, icon=icon, admit=bool(decision.admit),
        alert=bool(decision.alert_guard), headline=decision.headline, guidance=decision.guidance,
        reason=_unless_repeated(decision.reason, decision.headline, decision.guidance),
        # A code that failed verification only *claims* a name and a region: say so, never vouch for it.
        person=f"{r.name}（{UNVERIFIED.zh} {UNVERIFIED.en}）" if r.name and not signed else r.name,
        region=r.issuer_name if signed else None,
        guardian=guardian_line(r.guardian) if r.guardian is not None else None,
        card=r.code_type is not None and r.code_type.value == "card",
        verdict=r.verdict.value, outcome=decision.outcome, code_key=key,
        issued=issued_ago(issued_ago_s) if issued_ago_s is not None and signed else None,
        dcc=dcc_view(r, signed))


@dataclass(frozen=True)
class GroupView:
    """Several people at once (one frame, or a guardian scanning in quick succession)."""

    members: tuple[ResultView, ...]

    @property
    def admit(self) -> bool:
        # The group goes through only if every member may.
        return all(m.admit for m in self.members)

    @property
    def alert(self) -> bool:
        return any(m.alert for m in self.members)

    @property
    def kind(self) -> str:
        if self.admit:
            return "pass"
        order = ("red", "invalid", "yellow", "check")
        return next(k for k in order if any(m.kind == k for m in self.members) or k == "check")

    @property
    def headline(self) -> LocalText:
        n = len(self.members)
        if self.admit:
            return LocalText(f"{GROUP_ALL_ADMITTED.zh}（{n}人）", f"{GROUP_ALL_ADMITTED.en} ({n})")
        ok = sum(m.admit for m in self.members)
        return LocalText(f"{GROUP_NOT_ALL.zh}（{ok}/{n}）", f"{GROUP_NOT_ALL.en} ({ok} of {n} admitted)")


def group_view(decisions: Sequence[Decision]) -> GroupView:
    return GroupView(tuple(result_view(d) for d in decisions))


def shown_view(shown: Shown) -> ResultView:
    """The view of a `scanner.gate.shown.Shown`: its decision and the code's age. A member held back with its
    refused family keeps its code's colour but counts as not admitted, as it is logged (`Shown.logged`)."""
    view = result_view(shown.decision, shown.issued_ago_s)
    return dataclasses.replace(view, admit=False, outcome=shown.logged.outcome) if shown.held else view
