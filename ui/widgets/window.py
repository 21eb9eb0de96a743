"""The kiosk window: the page stack (idle, result, PIN, admin) and the status bar, and which decision shows when.

Everything arrives through slots (`show_decision`, `show_repeat`, `ack_answer`, `set_status`,
`set_preview`) connected to signals from `ui.app`; everything leaves through signals (`key_text` for
the keyboard-wedge scanner, `purchase`, `guard_decision`, `ack_requested`, `family_held`, and the admin
panel's requests). Its parts are mixed in: keys and touches (`ui.widgets.inputs`), the guard's alerts and
Admit/Deny (`ui.widgets.guard`), the way into the PIN pad and admin panel (`ui.widgets.access`).

One code, one screen: a decision joins the screen showing only when the core put it in the same group
(`Shown.group`: codes in one camera frame, or shown while the guard holds the family key). The next
person's decision replaces the screen at once with `fast_stream`, else after `min_result_seconds`.
A decision arriving while the screen must stay (a guard alert, a manual check, the admin pages) waits.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLayout, QStackedWidget, QVBoxLayout, QWidget

from keys.localtext import LocalText
from scanner.gate.repeats import RepeatNote
from scanner.session import RecentDecision, Shown
from scanner.sound.player import Announcer
from scanner.sound.prompts import decision_words, tone_for
from scanner.status import StatusSnapshot
from ui.model.pinauth import PinGate
from ui.model.status import LOG_DAMAGE
from ui.model.view import ACK_HINT, ACK_PIN_HINT, GroupView, registered_note, shown_view
from ui.sound import RecordingSound
from ui.widgets.access import AdminAccess
from ui.widgets.admin import AdminPage, PinPage
from ui.widgets.guard import GuardControls
from ui.widgets.guardkeys import GuardKeys
from ui.widgets.inputs import KioskInput
from ui.widgets.panels import DRUGS
from ui.widgets.parts import StatusBar
from ui.widgets.screens import IdleScreen, ResultScreen

# Decisions that waited (alert, admin panel) longer than this are logged but no longer shown.
QUEUE_MAX_AGE_S = 30.0
REPEAT_NOTE_MS = 1500
PHARMACY_WAIT_S = 90.0
NOTE_MS = 3000


class KioskWindow(KioskInput, GuardControls, AdminAccess, QWidget):
    key_text = Signal(str)
    purchase = Signal(int, list)
    acknowledged = Signal()
    screen_changed = Signal(str)
    result_painted = Signal(object)  # the GroupView, once the result screen has been painted
    profile_chosen = Signal(str)
    sync_requested = Signal()
    export_requested = Signal()
    time_confirmed = Signal()
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
        self.shown_since = 0.0
        self.members: list[Shown] = []
        self.queue: deque[Shown] = deque(maxlen=8)
        self._last_key_at = 0.0
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
        self._init_guard(self)
        self._init_admin(self, pin_gate, recent, admin_timeout_s)
        self.note_timer = QTimer(self)
        self.note_timer.setSingleShot(True)
        self.note_timer.timeout.connect(self._clear_note)
        self.note_about: str | None = None  # the code a repeat note on screen is about
        self.next_timer = QTimer(self)
        self.next_timer.setSingleShot(True)
        self.next_timer.timeout.connect(self._next)

        self.result.pharmacy.registered.connect(self._register_purchase)
        self.result.guard.decided.connect(self.decide_as_guard)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # Controls are touched, never typed into: none may take the keyboard from the wedge scanner (a scan's
        # spaces and Enter would press the button last touched, on the admin panel too).
        for page in (self.result, self.pin, self.admin):
            for c in page.findChildren(QWidget):
                c.setFocusPolicy(Qt.FocusPolicy.NoFocus)
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
        # A member of the family on screen joins it even while its red member's alert holds the screen:
        # the family is one verdict, never a stopped member first and the others later as a group of their own.
        if (self.page() == "result" and self.members and shown.group == self.members[-1].group
                and all(m.payload_key != shown.payload_key for m in self.members)):
            self._show([*self.members, shown])
            return
        if self._holding() or self.page() in ("pin", "admin"):
            self.queue.append(shown)
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
        if self.note_about is not None and all(m.payload_key != self.note_about for m in members):
            self.note_timer.stop()
            self._clear_note()
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
        first = group.members[0]
        speech = decision_words(first.outcome, first.headline) if len(group.members) == 1 else group.headline
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
        """The same code again within the debounce time: a short blip and a small note, never silence.

        The note is about that code: on another person's result it would read as theirs, so there the
        blip alone says it, and the next person's result drops it (`_show`)."""
        self.sound.play(note.sound)
        if self.page() == "result" and all(m.payload_key != note.payload_key for m in self.members):
            return
        self.show_note(note.text, REPEAT_NOTE_MS)
        self.note_about = note.payload_key

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
        self.note_about = None
        line = f"{text.zh} / {text.en}"
        self.idle.note.set(line)
        self.result.note.set(line)
        self.result.refit()
        self.note_timer.start(ms)

    def _clear_note(self) -> None:
        self.note_about = None
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
        self.admin.ack_storage.setVisible(bool(s.extra.get(LOG_DAMAGE)))

    def set_camera(self, present: bool) -> None:
        """Whether this kiosk has a camera: without one, no preview and no camera test."""
        self.idle.set_camera(present)
        self.admin.camera_test.setVisible(present)

    def set_preview(self, image: QImage) -> None:
        if self.page() == "idle":
            self.idle.preview.set_image(image)
        elif self.page() == "admin" and self.admin.preview.isVisible():
            self.admin.preview.set_image(image)

    def set_venue(self, name: str, title: LocalText, venue_name: str) -> None:
        self.profile_name = name
        self.idle.set_venue(title, venue_name)

    # --- input -----------------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        self._note_activity(event)
        if obj is self.result and event.type() == QEvent.Type.Paint and self._paint_pending:
            self._paint_pending = False
            # Emitted after this paint has finished.
            QTimer.singleShot(0, self._emit_painted)
        return False

    def _emit_painted(self) -> None:
        self.result_painted.emit(self.result.group)
