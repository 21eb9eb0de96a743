"""The kiosk window: idle and result screens, family tiles, guard alert and decisions, admin access, keys.

Everything arrives through slots (`show_decision`, `show_repeat`, `ack_answer`, `set_status`,
`set_preview`) connected to signals from `ui.app`; everything leaves through signals (`key_text` for
the keyboard-wedge scanner, `purchase`, `guard_decision`, `ack_requested`, `family_held`, and the admin
panel's requests).

One code, one screen: a decision joins the screen showing only when the core put it in the same group
(`Shown.group`: codes in one camera frame, or shown while the guard holds the family key). The next
person's decision replaces the screen at once with `fast_stream`, else after `min_result_seconds`.
A decision that asks for the guard (`alert_guard`) keeps the flashing border and repeats the alert
tone until the guard holds the screen 1 s or presses the guard key (the core may ask for the PIN);
a manual check shows Admit and Deny. Decisions arriving meanwhile wait.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLayout, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from keys.localtext import LocalText
from scanner.gate.repeats import RepeatNote
from scanner.session import RecentDecision, Shown
from scanner.sound.player import Announcer
from scanner.sound.prompts import tone_for
from scanner.status import StatusSnapshot
from ui.model.pinauth import PinGate
from ui.model.view import ACK_HINT, ACK_PIN_HINT, GroupView, registered_note, shown_view
from ui.sound import RecordingSound
from ui.widgets.admin import AdminPage, PinPage
from ui.widgets.guardkeys import GuardKeys
from ui.widgets.inputs import KioskInput
from ui.widgets.panels import DRUGS
from ui.widgets.parts import StatusBar
from ui.widgets.screens import IdleScreen, ResultScreen

# Decisions that waited (alert, admin panel) longer than this are logged but no longer shown.
QUEUE_MAX_AGE_S = 30.0
LONG_PRESS_MS = 1500
ACK_HOLD_MS = 1000
REPEAT_NOTE_MS = 1500
ALERT_REPEAT_MS = 2500
PHARMACY_WAIT_S = 90.0
NOTE_MS = 3000
ADMIN_ACTIVITY = (QEvent.Type.MouseButtonPress, QEvent.Type.KeyPress, QEvent.Type.TouchBegin, QEvent.Type.Wheel)


class KioskWindow(KioskInput, QWidget):
    key_text = Signal(str)
    purchase = Signal(int, list)
    acknowledged = Signal()
    screen_changed = Signal(str)
    result_painted = Signal(object)  # the GroupView, once the result screen has been painted
    profile_chosen = Signal(str)
    sync_requested = Signal()
    export_requested = Signal()
    quit_requested = Signal()
    guard_decision = Signal(object, bool)  # the Shown on screen, admit
    ack_requested = Signal(str, str)  # method ("hold", "key", "pin"), PIN
    family_held = Signal(bool)

    def __init__(self, *, sound: Announcer | None = None, result_seconds: float = 4.0,
                 min_result_seconds: float = 0.8, fast_stream: bool = False, pin_gate: PinGate | None = None,
                 profiles: Sequence[str] = (), recent: Callable[[], Sequence[RecentDecision]] | None = None,
                 admin_timeout_s: float = 60.0, keys: GuardKeys | None = None):
        super().__init__()
        self.setWindowTitle("Checkpoint")
        self.sound = sound if sound is not None else RecordingSound()
        self.result_seconds = result_seconds
        self.min_result_seconds = min_result_seconds
        self.fast_stream = fast_stream
        self.keys = keys or GuardKeys.named()
        # Set by the app when the core answers acknowledgements (and may want the PIN); alone, the
        # window acknowledges by itself.
        self.ack_via_core = False
        self.ack_needs_pin = False
        self.awaiting_guard: Shown | None = None  # a manual check (or repeat) waiting for Admit / Deny
        self.pin_purpose = "admin"
        self.shown_since = 0.0
        self.pin_gate = pin_gate or PinGate("")
        self.recent_source = recent  # callable returning recent decisions for the admin panel
        self.members: list[Shown] = []
        self.queue: deque[Shown] = deque(maxlen=8)
        self._last_key_at = 0.0
        self.alert_pending = False
        self.last_decision_at = 0.0
        self.profile_name = ""
        self._paint_pending = False

        self.idle = IdleScreen()
        self.result = ResultScreen()
        self.pin = PinPage()
        self.admin = AdminPage(profiles)
        self.status_bar = StatusBar()
        self.stack = QStackedWidget()
        for w in (self.idle, self.result, self.pin, self.admin):
            self.stack.addWidget(w)
        lay = QVBoxLayout(self)
        # The window's size is the screen's: contents never resize it (and offscreen Qt would warn).
        lay.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumSize(320, 240)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.status_bar)

        self.result_timer = QTimer(self)
        self.result_timer.setSingleShot(True)
        self.result_timer.timeout.connect(self._result_timeout)
        self.alert_timer = QTimer(self)
        self.alert_timer.setInterval(ALERT_REPEAT_MS)
        self.alert_timer.timeout.connect(self._alert_tone)
        # The PIN pad and admin panel go back to scanning after this long without a touch or key.
        self.admin_idle = QTimer(self)
        self.admin_idle.setSingleShot(True)
        self.admin_idle.setInterval(round(admin_timeout_s * 1000))
        self.admin_idle.timeout.connect(self.go_idle)
        for page in (self.pin, self.admin):
            for child in [page, *page.findChildren(QWidget)]:
                child.installEventFilter(self)
        self.note_timer = QTimer(self)
        self.note_timer.setSingleShot(True)
        self.note_timer.timeout.connect(self._clear_note)
        self.next_timer = QTimer(self)
        self.next_timer.setSingleShot(True)
        self.next_timer.timeout.connect(self._next)
        self.ack_hold = QTimer(self)
        self.ack_hold.setSingleShot(True)
        self.ack_hold.setInterval(ACK_HOLD_MS)
        self.ack_hold.timeout.connect(lambda: self.request_ack("hold"))
        self.long_press = QTimer(self)
        self.long_press.setSingleShot(True)
        self.long_press.setInterval(LONG_PRESS_MS)
        self.long_press.timeout.connect(self.open_pin)

        self.result.pharmacy.registered.connect(self._register_purchase)
        self.result.guard.decided.connect(self.decide_as_guard)
        self.pin.submitted.connect(self._pin_submitted)
        self.pin.cancelled.connect(self._pin_cancelled)
        self.admin.closed.connect(self.go_idle)
        self.admin.profile_chosen.connect(self.profile_chosen)
        self.admin.sync_requested.connect(self.sync_requested)
        self.admin.export_requested.connect(self.export_requested)
        self.admin.quit_requested.connect(self.quit_requested)
        self.admin.volume_changed.connect(self.sound.set_volume)
        self.admin.mute_changed.connect(self.sound.set_muted)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # Buttons on the result screen must not take the keyboard from the wedge scanner.
        for b in self.result.findChildren(QPushButton):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.result.installEventFilter(self)

    # --- what is showing -------------------------------------------------------------------------
    def page(self) -> str:
        current = self.stack.currentWidget()
        return next(name for name, w in (("idle", self.idle), ("result", self.result), ("pin", self.pin),
                                         ("admin", self.admin)) if w is current)

    def _set_page(self, w: QWidget) -> None:
        if self.stack.currentWidget() is not w:
            leaving_admin = self.page() in ("pin", "admin")
            self.stack.setCurrentWidget(w)
            if self.page() in ("pin", "admin"):
                self.admin_idle.start()
            else:
                self.admin_idle.stop()
            if leaving_admin and self.queue:
                n = len(self.queue)
                self.show_note(LocalText(f"管理期间已记录 {n} 次扫码", f"{n} scan(s) logged meanwhile"))
            self.screen_changed.emit(self.page())

    def group(self) -> GroupView | None:
        return self.result.group if self.page() == "result" else None

    # --- decisions -------------------------------------------------------------------------------
    def _holding(self) -> bool:
        """The screen must stay: a guard alert, or a manual check the guard has not decided yet."""
        return self.alert_pending or self.awaiting_guard is not None

    def show_decision(self, shown: Shown) -> None:
        if self._holding() or self.page() in ("pin", "admin"):
            self.queue.append(shown)
            return
        if (self.page() == "result" and self.members and shown.group == self.members[-1].group
                and all(m.payload_key != shown.payload_key for m in self.members)):
            self._show([*self.members, shown])
            return
        wait = self.min_result_seconds - (time.monotonic() - self.shown_since)
        if self.page() == "result" and not self.fast_stream and wait > 0:
            # The next person's result waits until this one has been seen.
            self.queue.append(shown)
            if not self.next_timer.isActive():
                self.next_timer.start(round(wait * 1000))
            return
        self._release_purchases()
        self._show([shown])

    def _show(self, members: list[Shown]) -> None:
        new = not self.members or members[0] is not self.members[0]
        self.members = members
        self.last_decision_at = time.monotonic()
        if new:
            self.shown_since = self.last_decision_at
        group = GroupView(tuple(shown_view(m) for m in members))
        self.result.show_group(group)
        tokens = [m.token for m in members if m.token is not None]
        self.result.show_pharmacy(bool(tokens) and group.admit)
        single = members[0] if len(members) == 1 else None
        self.awaiting_guard = single if single is not None and (
            single.manual_check or single.repeat is not None) else None
        self.result.show_guard(self.awaiting_guard is not None)
        self._set_page(self.result)
        self.alert_pending = group.alert
        self.result.set_alert(group.alert, ACK_PIN_HINT if self.ack_needs_pin else ACK_HINT)
        self.result.refit()
        # The words spoken are the headline shown (`scanner.sound.prompts`): voice and screen agree.
        speech = group.members[0].headline if len(group.members) == 1 else group.headline
        self.sound.play(tone_for(admit=group.admit, alert=group.alert, check=group.kind == "check"), speech)
        if group.alert:
            self.alert_timer.start()
            self.result_timer.stop()
        else:
            self.alert_timer.stop()
            wait = PHARMACY_WAIT_S if tokens and group.admit else self.result_seconds
            self.result_timer.start(round(wait * 1000))
        if self.queue and not self._holding():
            self.next_timer.start(round(self.min_result_seconds * 1000))  # the next person is waiting
        self._paint_pending = True
        self.result.update()

    def _next(self) -> None:
        """The current result has had its time: the next waiting decision, else the idle screen."""
        if self._holding() or self.page() != "result":
            return
        self._release_purchases()
        now = time.monotonic()
        while self.queue:
            waiting = self.queue.popleft()
            if now - waiting.decided_at <= QUEUE_MAX_AGE_S:
                self._show([waiting])
                return
        self.go_idle()

    def show_repeat(self, note: RepeatNote) -> None:
        """The same code again within the debounce time: a short blip and a small note, never silence."""
        self.sound.play(note.sound)
        self.show_note(note.text, REPEAT_NOTE_MS)

    # --- the guard's own decisions and acknowledgements --------------------------------------------
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
        """The core's answer to `ack_requested`: done, or the PIN is needed (or was wrong)."""
        if ok:
            self.acknowledge()
            return
        text = f"{message.zh}\n{message.en}" if message else ""
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

    def _result_timeout(self) -> None:
        if self.alert_pending:
            return
        # A manual check nobody decided is over too: the device's refusal stands.
        self.awaiting_guard = None
        self.result.show_guard(False)
        self._next()

    def clear(self) -> None:
        """Drop whatever is showing or waiting, alerts included, and go idle (shutdown, the tour of screens)."""
        self._clear_alert()
        self.awaiting_guard = None
        self.result.show_guard(False)
        self.queue.clear()
        self.go_idle()

    def go_idle(self) -> None:
        self._release_purchases()
        self.members = []
        self.result_timer.stop()
        self.next_timer.stop()
        self.result.show_pharmacy(False)
        self.pin_purpose = "admin"
        self._set_page(self.idle)
        self.setFocus()
        now = time.monotonic()
        while self.queue and not self._holding():
            waiting = self.queue.popleft()
            if now - waiting.decided_at <= QUEUE_MAX_AGE_S:
                self._show([waiting])
                break

    def _register_purchase(self, categories: list[str]) -> None:
        for m in self.members:
            if m.token is not None:
                self.purchase.emit(m.token, list(categories))
        self.members = [m for m in self.members if m.token is None]
        self.go_idle()
        names = dict(DRUGS)
        self.show_note(registered_note([names[c] for c in categories if c in names]))

    # --- notes: a small line on whatever screen is showing ------------------------------------------
    def show_note(self, text: LocalText, ms: int = NOTE_MS) -> None:
        line = f"{text.zh} / {text.en}"
        self.idle.note.set(line)
        self.result.note.set(line)
        self.result.refit()
        self.note_timer.start(ms)

    def _clear_note(self) -> None:
        self.idle.note.set(None)
        self.result.note.set(None)
        self.result.refit()

    def _release_purchases(self) -> None:
        """Visits held for a pharmacy registration that never came are logged as plain visits."""
        for m in self.members:
            if m.token is not None:
                self.purchase.emit(m.token, [])
        self.members = [m for m in self.members if m.token is None]

    # --- status and preview ----------------------------------------------------------------------
    def set_status(self, s: StatusSnapshot) -> None:
        self.status_bar.set_status(s)
        self.idle.set_status(s)

    def set_preview(self, image: QImage) -> None:
        if self.page() == "idle":
            self.idle.preview.set_image(image)
        elif self.page() == "admin" and self.admin.preview.isVisible():
            self.admin.preview.set_image(image)

    def set_venue(self, name: str, title: LocalText, venue_name: str) -> None:
        self.profile_name = name
        self.idle.set_venue(title, venue_name)

    # --- admin -----------------------------------------------------------------------------------
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

    # --- input -----------------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in ADMIN_ACTIVITY and self.admin_idle.isActive():
            self.admin_idle.start()  # someone is using the panel: the idle time starts again
        if obj is self.result and event.type() == QEvent.Type.Paint and self._paint_pending:
            self._paint_pending = False
            # Emitted after this paint has finished.
            QTimer.singleShot(0, self._emit_painted)
        return False

    def _emit_painted(self) -> None:
        self.result_painted.emit(self.result.group)
