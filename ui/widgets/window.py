"""The kiosk window: idle and result screens, family grouping, guard alert, admin access, key forwarding.

Everything arrives through slots (`show_decision`, `set_status`, `set_preview`) connected to signals
from `ui.app`; everything leaves through signals (`key_text` for the keyboard-wedge scanner,
`purchase` for the pharmacy registration, `acknowledged`, and the admin panel's requests).

Grouping: a decision for a different code that arrives within `group_window` seconds of the previous
one while a result is showing joins it as another tile (several codes in one frame, or a parent
scanning the family's codes one after another). The group is admitted only if everyone is.
A decision that asks for the guard (`alert_guard`) keeps the flashing border and repeats the alert
tone until the guard taps the screen or presses Space/Esc; decisions arriving meanwhile wait.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QLayout, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from keys.localtext import LocalText
from scanner.session import RecentDecision, Shown
from scanner.sound.player import Announcer
from scanner.sound.prompts import tone_for
from scanner.status import StatusSnapshot
from ui.model.pinauth import PinGate
from ui.model.view import GroupView, registered_note, result_view
from ui.sound import RecordingSound
from ui.widgets.admin import AdminPage, PinPage
from ui.widgets.parts import StatusBar
from ui.widgets.screens import DRUGS, IdleScreen, ResultScreen

ACK_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_Escape)
# A key this soon after the previous one is part of a wedge scanner's burst (Base45 has spaces), not
# a guard pressing Space.
BURST_GAP_S = 0.3
# Decisions that waited (alert, admin panel) longer than this are logged but no longer shown.
QUEUE_MAX_AGE_S = 30.0
LONG_PRESS_MS = 1500
ALERT_REPEAT_MS = 2500
PHARMACY_WAIT_S = 90.0
NOTE_MS = 3000
ADMIN_ACTIVITY = (QEvent.Type.MouseButtonPress, QEvent.Type.KeyPress, QEvent.Type.TouchBegin, QEvent.Type.Wheel)


class KioskWindow(QWidget):
    key_text = Signal(str)
    purchase = Signal(int, list)
    acknowledged = Signal()
    screen_changed = Signal(str)
    result_painted = Signal(object)  # the GroupView, once the result screen has been painted
    profile_chosen = Signal(str)
    sync_requested = Signal()
    export_requested = Signal()
    quit_requested = Signal()

    def __init__(self, *, sound: Announcer | None = None, result_seconds: float = 4.0, group_window: float = 2.0,
                 pin_gate: PinGate | None = None, profiles: Sequence[str] = (),
                 recent: Callable[[], Sequence[RecentDecision]] | None = None, admin_timeout_s: float = 60.0):
        super().__init__()
        self.setWindowTitle("Checkpoint")
        self.sound = sound if sound is not None else RecordingSound()
        self.result_seconds = result_seconds
        self.group_window = group_window
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
        self.long_press = QTimer(self)
        self.long_press.setSingleShot(True)
        self.long_press.setInterval(LONG_PRESS_MS)
        self.long_press.timeout.connect(self.open_pin)

        self.result.pharmacy.registered.connect(self._register_purchase)
        self.pin.submitted.connect(self._pin_submitted)
        self.pin.cancelled.connect(self.go_idle)
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
    def show_decision(self, shown: Shown) -> None:
        if self.alert_pending or self.page() in ("pin", "admin"):
            self.queue.append(shown)
            return
        now = time.monotonic()
        joins = (self.page() == "result" and self.members and now - self.last_decision_at <= self.group_window
                 and all(m.payload_key != shown.payload_key for m in self.members))
        if not joins:
            self._release_purchases()
            self.members = []
        self.members.append(shown)
        self.last_decision_at = now
        group = GroupView(tuple(result_view(m.decision) for m in self.members))
        self.result.show_group(group)
        tokens = [m.token for m in self.members if m.token is not None]
        self.result.show_pharmacy(bool(tokens) and group.admit)
        self._set_page(self.result)
        self.alert_pending = group.alert
        self.result.set_alert(group.alert)
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
        self._paint_pending = True
        self.result.update()

    def _alert_tone(self) -> None:
        self.sound.play("alert")

    def acknowledge(self) -> None:
        if not self.alert_pending:
            return
        self.alert_pending = False
        self.alert_timer.stop()
        self.result.set_alert(False)
        self.acknowledged.emit()
        self.go_idle()  # a decision that waited meanwhile starts a screen of its own

    def _result_timeout(self) -> None:
        if self.alert_pending:
            return
        self.go_idle()

    def go_idle(self) -> None:
        self._release_purchases()
        self.members = []
        self.result_timer.stop()
        self.result.show_pharmacy(False)
        self._set_page(self.idle)
        self.setFocus()
        now = time.monotonic()
        while self.queue and not self.alert_pending:
            waiting = self.queue.popleft()
            if now - waiting.decided_at <= QUEUE_MAX_AGE_S:
                self.show_decision(waiting)
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
        self.note_timer.start(ms)

    def _clear_note(self) -> None:
        self.idle.note.set(None)
        self.result.note.set(None)

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
        if self.page() in ("pin", "admin"):
            return
        self.alert_pending = False
        self.alert_timer.stop()
        self.result.set_alert(False)
        self.result_timer.stop()
        wait = self.pin_gate.locked_for()
        self.pin.reset(f"已锁定 {wait:.0f} 秒 / Locked for {wait:.0f} s" if wait else "")
        self._set_page(self.pin)

    def _pin_submitted(self, pin: str) -> None:
        r = self.pin_gate.attempt(pin)
        if not r.ok:
            self.pin.reset(f"{r.message_zh}\n{r.message_en}")
            return
        recent: Sequence[RecentDecision] = self.recent_source() if self.recent_source else []
        self.admin.load(profile=self.profile_name, volume=self.sound.volume, muted=self.sound.muted,
                        recent=list(recent))
        self._set_page(self.admin)

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

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._key(event):
            super().keyPressEvent(event)

    def _key(self, event: QKeyEvent) -> bool:
        """Handle a key for the kiosk; True when it was consumed."""
        if self.page() in ("pin", "admin"):
            return False
        mods = event.modifiers()
        ctrl_alt = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        if event.key() == Qt.Key.Key_A and (mods & ctrl_alt) == ctrl_alt:
            self.open_pin()
            return True
        now = time.monotonic()
        burst = now - self._last_key_at < BURST_GAP_S
        self._last_key_at = now
        if self.alert_pending and (event.key() == Qt.Key.Key_Escape
                                   or (event.key() in ACK_KEYS and not burst)):
            self.acknowledge()
            return True
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.key_text.emit("\r")
            return True
        text = event.text()
        if text and text.isprintable():
            self.key_text.emit(text)
            return True
        return False

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.alert_pending:
            self.acknowledge()
            return
        pos = event.position()
        corner = max(60.0, min(self.width(), self.height()) * 0.15)
        if pos.x() <= corner and pos.y() <= corner:
            self.long_press.start()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self.long_press.stop()
        super().mouseReleaseEvent(event)
