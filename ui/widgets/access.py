"""The way into the PIN pad and the admin panel, and back to scanning when nobody uses them.

`AdminAccess` is mixed into `ui.widgets.window.KioskWindow`. A long press in the top-left corner (or
Ctrl+Alt+A) opens the PIN pad; a right PIN (`ui.model.pinauth.PinGate`) opens the admin panel, whose
requests leave by the window's signals (`profile_chosen`, `sync_requested`, `export_requested`,
`time_confirmed`, `quit_requested`). The pages go back to scanning after `admin_timeout_s` without a touch or a key.
The same PIN pad takes the PIN for an alert's acknowledgement (`pin_purpose == "ack"`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer, SignalInstance
from PySide6.QtWidgets import QWidget

from scanner.session import RecentDecision
from ui.model.pinauth import PinGate

if TYPE_CHECKING:
    from scanner.sound.player import Announcer
    from ui.widgets.admin import AdminPage, PinPage
    from ui.widgets.screens import ResultScreen

LONG_PRESS_MS = 1500
ADMIN_ACTIVITY = (QEvent.Type.MouseButtonPress, QEvent.Type.KeyPress, QEvent.Type.TouchBegin, QEvent.Type.Wheel)


class AdminAccess:
    """PIN pad and admin panel handling of the kiosk window (a mixin: the attributes below are the window's)."""

    pin: PinPage
    admin: AdminPage
    result: ResultScreen
    sound: Announcer
    profile_name: str
    alert_pending: bool
    result_timer: QTimer
    profile_chosen: SignalInstance
    sync_requested: SignalInstance
    export_requested: SignalInstance
    time_confirmed: SignalInstance
    quit_requested: SignalInstance
    ack_requested: SignalInstance

    if TYPE_CHECKING:  # the window's own methods; declared for the type checker only
        def page(self) -> str: ...
        def _set_page(self, w: QWidget) -> None: ...
        def _holding(self) -> bool: ...
        def go_idle(self) -> None: ...

    def _init_admin(self, owner: QObject, pin_gate: PinGate | None,
                    recent: Callable[[], Sequence[RecentDecision]] | None, admin_timeout_s: float) -> None:
        """The PIN pad's and admin panel's state, timers and wiring; `owner` is the window itself, the
        timers' Qt parent and the pages' event filter."""
        self.pin_purpose = "admin"
        self.pin_gate = pin_gate or PinGate("")
        self.recent_source = recent  # callable returning recent decisions for the admin panel
        # The PIN pad and admin panel go back to scanning after this long without a touch or key.
        self.admin_idle = QTimer(owner)
        self.admin_idle.setSingleShot(True)
        self.admin_idle.setInterval(round(admin_timeout_s * 1000))
        # Back to scanning, or to the alert whose PIN nobody entered (still pending, never hidden).
        self.admin_idle.timeout.connect(self._pin_cancelled)
        for page in (self.pin, self.admin):
            for child in [page, *page.findChildren(QWidget)]:
                child.installEventFilter(owner)
        self.long_press = QTimer(owner)
        self.long_press.setSingleShot(True)
        self.long_press.setInterval(LONG_PRESS_MS)
        self.long_press.timeout.connect(self.open_pin)
        self.pin.submitted.connect(self._pin_submitted)
        self.pin.cancelled.connect(self._pin_cancelled)
        self.admin.closed.connect(self.go_idle)
        self.admin.profile_chosen.connect(self.profile_chosen)
        self.admin.sync_requested.connect(self.sync_requested)
        self.admin.export_requested.connect(self.export_requested)
        self.admin.time_confirmed.connect(self.time_confirmed)
        self.admin.quit_requested.connect(self.quit_requested)
        self.admin.volume_changed.connect(self.sound.set_volume)
        self.admin.mute_changed.connect(self.sound.set_muted)

    def open_pin(self) -> None:
        # An alert is never silenced by opening the panel: it is acknowledged, or it stays.
        if self.page() in ("pin", "admin") or self._holding():
            return
        self.result_timer.stop()
        self.pin_purpose = "admin"
        wait = self.pin_gate.locked_for()
        self.pin.reset(f"已锁定 {wait:.0f} 秒 / Locked for {wait:.0f} s" if wait else "")
        self._set_page(self.pin)

    def _pin_submitted(self, pin: str) -> None:
        if self.pin_purpose == "ack":
            # The same PIN as the panel's: tries at the alert's pad are rate-limited with the panel's.
            wait = self.pin_gate.locked_for()
            if wait > 0:
                self.pin.reset(f"已锁定，请 {wait:.0f} 秒后再试\nLocked — try again in {wait:.0f} s")
                return
            self.ack_pin_tried = True
            self.ack_requested.emit("pin", pin)
            return
        r = self.pin_gate.attempt(pin)
        if not r.ok:
            self.pin.reset(f"{r.message_zh}\n{r.message_en}")
            return
        recent: Sequence[RecentDecision] = self.recent_source() if self.recent_source else []
        self.admin.load(profile=self.profile_name, volume=self.sound.volume, muted=self.sound.muted,
                        recent=list(recent))
        self._set_page(self.admin)

    def _pin_cancelled(self) -> None:
        if self.pin_purpose == "ack" and self.alert_pending:
            self.pin_purpose = "admin"
            self._set_page(self.result)  # back to the alert, still pending
            return
        self.go_idle()

    def admin_message(self, text: str) -> None:
        self.admin.message.setText(text)

    def _note_activity(self, event: QEvent) -> None:
        """An event on the PIN pad or admin panel: someone is using them, the idle time starts again."""
        if event.type() in ADMIN_ACTIVITY and self.admin_idle.isActive():
            self.admin_idle.start()
