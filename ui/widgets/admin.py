"""The PIN pad and the admin panel (profile, sync now, camera test, recent decisions, export, volume, quit).

Both are plain widgets that emit signals; `ui.widgets.window` decides what the signals do. The recent-decisions
table shows no names: only time, verdict and issuer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from scanner.session import RecentDecision
from ui.widgets.parts import PreviewView, font, unit_of

STYLE = ("#admin, #pin { background: #1d2731; } QLabel, QCheckBox { color: #ffffff; }"
         "QPushButton { background: #e8eef3; color: #111; border-radius: 6px; padding: 6px; }"
         "QLineEdit { background: #ffffff; color: #111; } #danger { background: #c0221c; color: #ffffff; }")


class PinPage(QWidget):
    """A numeric keypad; `submitted(pin)` when OK is pressed, `cancelled` on Back."""

    submitted = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pin")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(STYLE)
        self.title = QLabel("管理员密码 / Admin PIN")
        self.entry = QLineEdit()
        self.entry.setEchoMode(QLineEdit.EchoMode.Password)
        self.entry.setReadOnly(True)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        grid = QGridLayout()
        self.keys: dict[str, QPushButton] = {}
        for i, k in enumerate(["1", "2", "3", "4", "5", "6", "7", "8", "9", "⌫", "0", "OK"]):
            b = QPushButton(k)
            b.clicked.connect(lambda _=False, k=k: self.press(k))
            self.keys[k] = b
            grid.addWidget(b, i // 3, i % 3)
        back = QPushButton("返回 Back")
        back.clicked.connect(self.cancelled)
        self.keys["back"] = back
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.entry)
        lay.addWidget(self.message)
        lay.addLayout(grid, 1)
        lay.addWidget(back)

    def press(self, key: str) -> None:
        if key == "⌫":
            self.entry.setText(self.entry.text()[:-1])
        elif key == "OK":
            pin = self.entry.text()
            self.entry.clear()
            self.submitted.emit(pin)
        elif len(self.entry.text()) < 12:
            self.entry.setText(self.entry.text() + key)

    def reset(self, message: str = "") -> None:
        self.entry.clear()
        self.message.setText(message)

    def resizeEvent(self, event: QResizeEvent) -> None:
        u = unit_of(self)
        for w in (self.title, self.entry, self.message, *self.keys.values()):
            w.setFont(font(20 * u, True))
        super().resizeEvent(event)


class AdminPage(QWidget):
    """What the venue's administrator may do at the kiosk."""

    profile_chosen = Signal(str)
    sync_requested = Signal()
    export_requested = Signal()
    time_confirmed = Signal()
    storage_acknowledged = Signal()
    volume_changed = Signal(float)
    mute_changed = Signal(bool)
    quit_requested = Signal()
    closed = Signal()

    def __init__(self, profiles: Sequence[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("admin")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(STYLE)
        self.profile = QComboBox()
        self.profile.addItems(list(profiles))
        self.profile.activated.connect(self._profile_activated)
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self.volume.valueChanged.connect(self._volume_moved)
        self.mute = QCheckBox("静音 Mute")
        self.mute.toggled.connect(self.mute_changed)
        self.sync = QPushButton("立即同步 Sync now")
        self.sync.clicked.connect(self.sync_requested)
        self.export = QPushButton("导出记录 Export logs")
        self.export.clicked.connect(self.export_requested)
        # Without a hub or NTP the clock is never trusted by itself: the administrator vouches for the time
        # shown (its text is set when the panel opens).
        self.confirm_time = QPushButton("")
        self.confirm_time.clicked.connect(self.time_confirmed)
        # Shown while a damaged visit log's notice is on the status bar (`set_status`): the administrator has
        # read it. The recovered visits go on uploading either way.
        self.ack_storage = QPushButton("已知悉存储损坏 Storage notice read")
        self.ack_storage.clicked.connect(self.storage_acknowledged)
        self.ack_storage.hide()
        self.camera_test = QPushButton("摄像头测试 Camera test")
        self.camera_test.setCheckable(True)
        self.quit = QPushButton("退出 Quit kiosk")
        # Quitting stops the checkpoint: it takes a second, deliberate press on a confirmation.
        self.quit.clicked.connect(self._ask_quit)
        self.quit_confirm = QWidget()
        self.quit_confirm.setObjectName("quitconfirm")
        confirm = QVBoxLayout(self.quit_confirm)
        confirm.setContentsMargins(0, 0, 0, 0)
        self.quit_question = QLabel("退出后本机不再查验健康码，确定退出？\nThe kiosk stops checking codes. Quit?")
        self.quit_question.setWordWrap(True)
        confirm.addWidget(self.quit_question)
        buttons = QHBoxLayout()
        self.quit_yes = QPushButton("确定退出 Quit")
        self.quit_yes.setObjectName("danger")
        self.quit_yes.clicked.connect(self._quit_confirmed)
        self.quit_no = QPushButton("取消 Cancel")
        self.quit_no.clicked.connect(self._quit_cancelled)
        buttons.addWidget(self.quit_yes)
        buttons.addWidget(self.quit_no)
        confirm.addLayout(buttons)
        self.quit_confirm.hide()
        self.back = QPushButton("返回 Back")
        self.back.clicked.connect(self.closed)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.recent = QTableWidget(0, 3)
        self.recent.setHorizontalHeaderLabels(["时间 Time", "结果 Verdict", "发码 Issuer"])
        self.recent.horizontalHeader().setStretchLastSection(True)
        self.recent.verticalHeader().setVisible(False)
        self.preview = PreviewView()
        self.preview.setVisible(False)
        self.camera_test.toggled.connect(self._camera_test)
        left = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(QLabel("场所 Venue"))
        row.addWidget(self.profile, 1)
        left.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("音量 Volume"))
        row.addWidget(self.volume, 1)
        row.addWidget(self.mute)
        left.addLayout(row)
        for b in (self.sync, self.export, self.confirm_time, self.ack_storage, self.camera_test, self.quit,
                  self.quit_confirm, self.back):
            left.addWidget(b)
        left.addWidget(self.message)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.recent, 1)
        right.addWidget(self.preview, 1)
        lay = QHBoxLayout(self)
        lay.addLayout(left, 1)
        lay.addLayout(right, 1)

    def load(self, *, profile: str, volume: float, muted: bool, recent: Sequence[RecentDecision]) -> None:
        self.profile.setCurrentText(profile)
        self.volume.blockSignals(True)
        self.volume.setValue(round(volume * 100))
        self.volume.blockSignals(False)
        self.mute.blockSignals(True)
        self.mute.setChecked(muted)
        self.mute.blockSignals(False)
        self.message.setText("")
        self.confirm_time.setText(time.strftime("时间正确 Time is right: %Y-%m-%d %H:%M", time.localtime()))
        self._quit_cancelled()
        self.recent.setRowCount(len(recent))
        for i, r in enumerate(recent):
            verdict = ("✓ " if r.admit else "✕ ") + (r.outcome if r.outcome != r.verdict else r.verdict)
            for j, text in enumerate((time.strftime("%H:%M:%S", time.localtime(r.at)), verdict, r.issuer)):
                self.recent.setItem(i, j, QTableWidgetItem(text))

    def _ask_quit(self) -> None:
        self.quit.hide()
        self.quit_confirm.show()

    def _quit_cancelled(self) -> None:
        self.quit_confirm.hide()
        self.quit.show()

    def _quit_confirmed(self) -> None:
        self._quit_cancelled()
        self.quit_requested.emit()

    # Slots are methods returning None: PySide6 mishandles a Python bool returned to Qt (refcount).
    def _profile_activated(self, _index: int) -> None:
        self.profile_chosen.emit(self.profile.currentText())

    def _volume_moved(self, value: int) -> None:
        self.volume_changed.emit(value / 100)

    def _camera_test(self, on: bool) -> None:
        self.preview.setVisible(on)
        self.recent.setVisible(not on)

    def resizeEvent(self, event: QResizeEvent) -> None:
        u = unit_of(self)
        for w in self.findChildren(QPushButton) + self.findChildren(QLabel) + [self.profile, self.mute]:
            w.setFont(font(15 * u, True))
        self.recent.setFont(font(13 * u))
        super().resizeEvent(event)
