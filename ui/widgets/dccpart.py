"""The EU DCC lines of the result panel: date of birth, certificate type and key fact, country code.

Paints a `ui.model.dccview.DccView`; hidden for every other format.
"""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from ui.model.dccview import DOB, DccView
from ui.widgets.parts import Text


class DccLines(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.born = Text(24, True)
        self.kind = Text(22)
        self.fact_zh = Text(22, True)
        self.fact_en = Text(19)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        for w in (self.born, self.kind, self.fact_zh, self.fact_en):
            lay.addWidget(w)
        self.setVisible(False)

    def show_dcc(self, v: DccView | None) -> None:
        self.setVisible(v is not None)
        if v is None:
            return
        self.born.set(f"{DOB.zh} / {DOB.en}: {v.dob or '?'}")
        kind = f"{v.kind.zh} / {v.kind.en}"
        self.kind.set(f"{kind} · {v.country}" if v.country else kind)
        self.fact_zh.set(v.fact.zh if v.fact else None)
        self.fact_en.set(v.fact.en if v.fact else None)
