"""What the core hands to a screen for one decision (`Shown`), and the answer to an acknowledgement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from keys.localtext import LocalText
from scanner.gate.repeats import Repeat

if TYPE_CHECKING:
    from scanner.policy import Decision

PIN_NEEDED = LocalText("请输入管理员密码以确认", "Enter the PIN to acknowledge")


@dataclass(frozen=True)
class Shown:
    """One decided code on its way to the screen (and the turnstile)."""

    decision: Decision
    payload_key: str
    frame_timestamp: float  # monotonic capture time (camera) or arrival of the last key (scanner)
    decided_at: float  # monotonic
    source: str
    token: int | None = None  # pharmacy: the clerk may register drug categories for this visit
    group: int = 0  # decisions with the same group share one (family) screen
    visit_id: str | None = None  # the logged row; None when it could not be logged
    gate: str | None = None  # "open", "failed", or None when the gate was not asked to open
    repeat: Repeat | None = None  # an anti-passback repeat: not admitted again
    issued_ago_s: float | None = None  # how old the code is (a screenshot of an old code shows)
    decided_by: str = "device"
    held: bool = False  # admitted on its own, held back because another member of its family was refused

    @property
    def logged(self) -> Decision:
        """The decision as logged and as the turnstile took it: for a member `held` with its refused family,
        not admitted (`scanner.gate.grouping.held_with_group`); the screen shows the code's own decision."""
        from scanner.gate.grouping import held_with_group

        return held_with_group(self.decision) if self.held else self.decision

    @property
    def manual_check(self) -> bool:
        """The device could not decide: the guard decides with Admit / Deny (`Session.guard_decide`)."""
        return self.decided_by == "device" and str(self.decision.tone) == "check"


@dataclass(frozen=True)
class AckResult:
    ok: bool
    message: LocalText | None = None
