"""The kiosk's keys and touches: the guard's keypad, the wedge scanner's keystrokes, holds and long presses.

`KioskInput` is mixed into `ui.widgets.window.KioskWindow`; it only turns input into the window's
actions (acknowledge, Admit/Deny, family key, admin access) or scanner text (`key_text`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, SignalInstance
from PySide6.QtGui import QKeyEvent, QMouseEvent

from ui.widgets.guardkeys import GuardKeys, normal

if TYPE_CHECKING:
    from scanner.session import Shown

# A key this soon after the previous one is part of a wedge scanner's burst (Base45 has spaces), not
# a guard pressing a key.
BURST_GAP_S = 0.3


class KioskInput:
    """Key and mouse handlers of the kiosk window (a mixin: the attributes below are the window's)."""

    keys: GuardKeys
    alert_pending: bool
    awaiting_guard: Shown | None
    key_text: SignalInstance
    family_held: SignalInstance
    long_press: QTimer
    ack_hold: QTimer
    _last_key_at: float

    if TYPE_CHECKING:  # the window's own methods; declared for the type checker only
        def page(self) -> str: ...
        def open_pin(self) -> None: ...
        def request_ack(self, method: str) -> None: ...
        def decide_as_guard(self, admit: bool) -> None: ...
        def width(self) -> int: ...
        def height(self) -> int: ...

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._key(event):
            super().keyPressEvent(event)  # type: ignore[misc]

    def _key(self, event: QKeyEvent) -> bool:
        """Handle a key for the kiosk; True when it was consumed."""
        if self.page() in ("pin", "admin"):
            # Touch pages: keys there are a wedge scanner's (a customer scanning meanwhile), queued as a scan.
            return self._scanner_key(event)
        mods = event.modifiers()
        ctrl_alt = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        if event.key() == Qt.Key.Key_A and (mods & ctrl_alt) == ctrl_alt:
            self.open_pin()
            return True
        key = normal(event.key())
        if key == self.keys.family:
            if not event.isAutoRepeat():
                self.family_held.emit(True)
            return True
        now = time.monotonic()
        burst = now - self._last_key_at < BURST_GAP_S
        self._last_key_at = now
        # A guard's key inside a wedge scanner's burst is part of the code (Base45 has spaces).
        if self.alert_pending and (key == Qt.Key.Key_Escape or (key == self.keys.ack and not burst)):
            self.request_ack("key")
            return True
        if self.awaiting_guard is not None and not burst and key in (self.keys.admit, self.keys.deny):
            self.decide_as_guard(key == self.keys.admit)
            return True
        return self._scanner_key(event)

    def _scanner_key(self, event: QKeyEvent) -> bool:
        """Forward a key to the keyboard-wedge scanner's buffer; True when it was one it takes."""
        if normal(event.key()) == Qt.Key.Key_Return:
            self.key_text.emit("\r")
            return True
        text = event.text()
        if text and text.isprintable():
            self.key_text.emit(text)
            return True
        return False

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if normal(event.key()) == self.keys.family and not event.isAutoRepeat():
            self.family_held.emit(False)
            return
        super().keyReleaseEvent(event)  # type: ignore[misc]

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.alert_pending:
            self.ack_hold.start()  # held for ACK_HOLD_MS: a deliberate act, not a brush of the screen
            return
        pos = event.position()
        corner = max(60.0, min(self.width(), self.height()) * 0.15)
        if pos.x() <= corner and pos.y() <= corner:
            self.long_press.start()
        super().mousePressEvent(event)  # type: ignore[misc]

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self.long_press.stop()
        self.ack_hold.stop()
        super().mouseReleaseEvent(event)  # type: ignore[misc]
