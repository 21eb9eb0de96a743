"""The pinned PySide6 must not drop references to None: 6.12.0 did on Python 3.11 and crashed the kiosk."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QWidget


def test_void_calls_keep_none_alive(qtbot) -> None:
    w = QWidget()
    qtbot.addWidget(w)
    before = sys.getrefcount(None)
    for _ in range(1000):
        w.update()
        w.setWindowTitle("checkpoint")
    # Other threads and the interpreter move None's count a little; a leak moves it by thousands.
    assert sys.getrefcount(None) - before > -200
