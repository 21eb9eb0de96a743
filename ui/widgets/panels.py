"""Parts of the result screen: a family member's tile, the pharmacy's drug toggles, the guard's Admit/Deny.

Each paints what `ui.model.view` computed and reports a touch by a signal; `ui.widgets.screens` places them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from keys.localtext import LocalText
from ui.model.view import ADMIT, DENY, GUARD_HINT, PRINTED_CARD, ResultView
from ui.widgets.parts import IconBadge, Text, font


class Tile(QFrame):
    """One member of a group: its own colour, icon, name and headline."""

    def __init__(self, v: ResultView, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = v
        self.setObjectName("tile")
        self.setStyleSheet(f"#tile {{ background: {v.colour}; border: 3px solid rgba(0,0,0,0.35); "
                           f"border-radius: 10px; }} QLabel {{ color: {v.text_colour}; background: transparent; }}")
        self.icon = IconBadge(60)
        self.icon.set(v.icon, v.text_colour)
        self.name = Text(22, True)
        self.name.set(v.person or "—")
        self.head_zh = Text(20, True)
        self.head_zh.set(v.headline.zh)
        self.head_en = Text(15)
        self.head_en.set(v.headline.en)
        self.detail = Text(15)
        detail = [v.region_text or ""]
        if v.guardian:
            detail.append(v.guardian.zh)
        if v.card:
            detail.append(PRINTED_CARD.zh + " " + PRINTED_CARD.en)
        if v.reason:
            detail.append(v.reason.zh)
        self.detail.set(" · ".join(d for d in detail if d) or None)
        lay = QHBoxLayout(self)
        lay.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        col = QVBoxLayout()
        col.setSpacing(0)
        for w in (self.name, self.head_zh, self.head_en, self.detail):
            col.addWidget(w)
        col.addStretch(1)
        lay.addLayout(col, 1)


DRUGS = (("antipyretic", LocalText("退烧", "Fever")), ("antitussive", LocalText("止咳感冒", "Cough / cold")),
         ("antiviral", LocalText("抗病毒", "Antiviral")), ("antibiotic", LocalText("抗生素", "Antibiotic")))


class PharmacyPanel(QWidget):
    """After a pass at a pharmacy: the clerk taps what was sold, then registers."""

    registered = Signal(list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.buttons: dict[str, QPushButton] = {}
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for key, text in DRUGS:
            b = QPushButton(f"{text.zh}\n{text.en}")
            b.setCheckable(True)
            b.setObjectName("drug")
            self.buttons[key] = b
            lay.addWidget(b)
        # Register is an action, not a choice: filled, bordered, wider and set apart from the toggles.
        lay.addSpacing(16)
        self.confirm = QPushButton("✔ 登记\nRegister")
        self.confirm.setObjectName("confirm")
        self.confirm.clicked.connect(self._confirm)
        lay.addWidget(self.confirm, 2)

    def reset(self) -> None:
        for b in self.buttons.values():
            b.setChecked(False)

    def selected(self) -> list[str]:
        return [k for k, b in self.buttons.items() if b.isChecked()]

    def _confirm(self) -> None:
        self.registered.emit(self.selected())

    def rescale(self, unit: float) -> None:
        for b in [*self.buttons.values(), self.confirm]:
            b.setFont(font(17 * unit, True))
            b.setMinimumHeight(round(64 * unit))


class GuardBar(QWidget):
    """A manual check: the guard's Admit and Deny (touch; the keypad's keys do the same)."""

    decided = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.hint = Text(18, True)
        self.hint.set(f"{GUARD_HINT.zh} / {GUARD_HINT.en}")
        self.admit = QPushButton(f"✓ {ADMIT.zh} {ADMIT.en}")
        self.admit.setObjectName("admit")
        self.admit.clicked.connect(lambda: self.decided.emit(True))
        self.deny = QPushButton(f"✕ {DENY.zh} {DENY.en}")
        self.deny.setObjectName("deny")
        self.deny.clicked.connect(lambda: self.decided.emit(False))
        row = QHBoxLayout()
        row.addWidget(self.admit, 1)
        row.addWidget(self.deny, 1)
        lay.addWidget(self.hint)
        lay.addLayout(row)

    def rescale(self, unit: float) -> None:
        for b in (self.admit, self.deny):
            b.setFont(font(20 * unit, True))
            b.setMinimumHeight(round(64 * unit))
