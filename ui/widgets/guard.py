"""The guard's part of a result: an alert waiting to be acknowledged, a manual check waiting for Admit/Deny.

`GuardControls` is mixed into `ui.widgets.window.KioskWindow`. An alert keeps the flashing border and
repeats the alert tone until the guard holds the screen `ACK_HOLD_MS` or presses the guard key; when the
app lets the core answer acknowledgements (`ack_via_core`) the request leaves by `ack_requested` and
the core's answer comes back to `ack_answer` (it may ask for the PIN). Admit and Deny leave by
`guard_decision`; the logged decision comes back to `show_guard_result`.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, SignalInstance

from keys.localtext import LocalText

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from scanner.session import Shown
    from scanner.sound.player import Announcer
    from ui.model.pinauth import PinGate
    from ui.widgets.admin import PinPage
    from ui.widgets.screens import ResultScreen

ACK_HOLD_MS = 1000
ALERT_REPEAT_MS = 2500


class GuardControls:
    """Alert, acknowledgement and manual-check handling of the kiosk window (a mixin: the attributes
    below are the window's)."""

    result: ResultScreen
    pin: PinPage
    pin_gate: PinGate
    sound: Announcer
    queue: deque[Shown]
    members: list[Shown]
    pin_purpose: str
    guard_decision: SignalInstance
    ack_requested: SignalInstance
    acknowledged: SignalInstance

    if TYPE_CHECKING:  # the window's own methods; declared for the type checker only
        def page(self) -> str: ...
        def _set_page(self, w: QWidget) -> None: ...
        def _next(self) -> None: ...
        def go_idle(self) -> None: ...

    def _init_guard(self, owner: QObject) -> None:
        """The guard's state and timers; `owner` is the window itself, the timers' Qt parent."""
        # Set by the app when the core answers acknowledgements (and may want the PIN); alone, the
        # window acknowledges by itself.
        self.ack_via_core = False
        self.ack_needs_pin = False
        self.ack_pin_tried = False  # a PIN went to the core for the alert: its answer is counted
        self.awaiting_guard: Shown | None = None  # a manual check (or repeat) waiting for Admit / Deny
        self.alert_pending = False
        self.alert_timer = QTimer(owner)
        self.alert_timer.setInterval(ALERT_REPEAT_MS)
        self.alert_timer.timeout.connect(self._alert_tone)
        self.ack_hold = QTimer(owner)
        self.ack_hold.setSingleShot(True)
        self.ack_hold.setInterval(ACK_HOLD_MS)
        self.ack_hold.timeout.connect(lambda: self.request_ack("hold"))

    def _holding(self) -> bool:
        """The screen must stay: a guard alert, or a manual check the guard has not decided yet."""
        return self.alert_pending or self.awaiting_guard is not None

    def decide_as_guard(self, admit: bool) -> None:
        shown = self.awaiting_guard
        if shown is None:
            return
        self.awaiting_guard = None
        self.result.show_guard(False)
        if self.alert_pending:
            self._clear_alert()
        self.guard_decision.emit(shown, admit)

    def show_guard_result(self, shown: Shown) -> None:
        """The guard's logged decision (from the core): shown at once, in place of the manual check."""
        self.queue.appendleft(shown)
        self.members = []
        if self.page() == "result":
            self._next()
        else:
            self.go_idle()

    def request_ack(self, method: str) -> None:
        if not self.alert_pending:
            return
        if self.ack_via_core and self.ack_needs_pin:
            self._open_ack_pin("")
        elif self.ack_via_core:
            self.ack_requested.emit(method, "")
        else:
            self.acknowledge()

    def ack_answer(self, ok: bool, message: LocalText | None = None) -> None:
        """The core's answer to `ack_requested`: done, or the PIN is needed (or was wrong). A PIN tried
        at the pad counts toward the admin PIN's lockout (`PinGate.record`)."""
        tried, self.ack_pin_tried = self.ack_pin_tried, False
        counted = self.pin_gate.record(ok) if tried else None
        if ok:
            self.acknowledge()
            return
        text = f"{message.zh}\n{message.en}" if message else ""
        if counted is not None:
            text = f"{counted.message_zh}\n{counted.message_en}"
        if self.page() == "pin":
            self.pin.reset(text)
        else:
            self._open_ack_pin(text)

    def _open_ack_pin(self, text: str) -> None:
        self.pin_purpose = "ack"
        self.pin.reset(text or "请输入密码以确认警报\nEnter the PIN to acknowledge the alert")
        self._set_page(self.pin)

    def _clear_alert(self) -> None:
        self.alert_pending = False
        self.alert_timer.stop()
        self.ack_hold.stop()
        self.result.set_alert(False)

    def _alert_tone(self) -> None:
        self.sound.play("alert")

    def acknowledge(self) -> None:
        if not self.alert_pending:
            return
        self._clear_alert()
        self.awaiting_guard = None
        self.result.show_guard(False)
        self.acknowledged.emit()
        self.go_idle()  # a decision that waited meanwhile starts a screen of its own
