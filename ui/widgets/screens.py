"""The kiosk's screens: idle (camera preview and prompt) and result (one person, or family tiles).

They only paint what `ui.model.view` and `ui.model.status` computed; they hold no decision logic.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QFrame, QGridLayout, QVBoxLayout, QWidget

from keys.localtext import LocalText
from scanner.status import StatusSnapshot
from ui.model.status import banners
from ui.model.view import (
    ACK_HINT,
    ALERT_BORDER,
    AMBER,
    COLOURS,
    IDLE_COLOURS,
    PRINTED_CARD,
    PROMPT,
    SCANNER_ONLY,
    GroupView,
    ResultView,
)
from ui.widgets.dccpart import DccLines
from ui.widgets.panels import GuardBar, PharmacyPanel, Tile
from ui.widgets.parts import IconBadge, PreviewView, Text, portrait, rescale_all, unit_of


class ResultPanel(QWidget):
    """One person's result, full size."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.icon = IconBadge(128)
        self.headline_zh = Text(46, True)
        self.headline_en = Text(28, True)
        self.guidance_zh = Text(26)
        self.guidance_en = Text(21)
        self.reason_zh = Text(26, True)
        self.reason_en = Text(21, True)
        self.person = Text(26, True)
        self.guardian = Text(22)
        self.card = Text(22, True, wrap=False)
        self.issued = Text(20)
        self.dcc = DccLines()
        self.reason_box = QFrame()
        self.reason_box.setObjectName("reason")
        rb = QVBoxLayout(self.reason_box)
        rb.setContentsMargins(12, 6, 12, 6)
        rb.setSpacing(0)
        rb.addWidget(self.reason_zh)
        rb.addWidget(self.reason_en)
        top = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.top = top
        top.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        heads = QVBoxLayout()
        heads.setSpacing(0)
        heads.addWidget(self.headline_zh)
        heads.addWidget(self.headline_en)
        heads.addSpacing(6)
        heads.addWidget(self.guidance_zh)
        heads.addWidget(self.guidance_en)
        top.addLayout(heads, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addStretch(0)  # grows in portrait, so the result sits in the middle of a tall screen
        lay.addLayout(top)
        lay.addWidget(self.reason_box)
        lay.addWidget(self.person)
        lay.addWidget(self.dcc)
        lay.addWidget(self.guardian)
        lay.addWidget(self.card)
        lay.addWidget(self.issued)
        lay.addStretch(1)
        self._lay = lay

    def arrange(self, portrait: bool) -> None:
        """Landscape: icon left of the headline. Portrait: a bigger icon above it, centred."""
        self.top.setDirection(QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight)
        self.top.setAlignment(self.icon, Qt.AlignmentFlag.AlignHCenter if portrait else Qt.AlignmentFlag.AlignTop)
        self.icon.size_units = 200 if portrait else 128
        self._lay.setStretch(0, 1 if portrait else 0)

    def show_view(self, v: ResultView) -> None:
        self.icon.set(v.icon, v.text_colour)
        self.headline_zh.set(v.headline.zh)
        self.headline_en.set(v.headline.en)
        self.guidance_zh.set(v.guidance.zh)
        self.guidance_en.set(v.guidance.en)
        self.reason_zh.set(v.reason.zh if v.reason else None)
        self.reason_en.set(v.reason.en if v.reason else None)
        self.reason_box.setVisible(v.reason is not None)
        who = " · ".join(t for t in (v.person, v.region_text) if t)
        self.person.set(who or None)
        self.guardian.set(f"{v.guardian.zh} / {v.guardian.en}" if v.guardian else None)
        self.card.set(f"▣ {PRINTED_CARD.zh} / {PRINTED_CARD.en}" if v.card else None)
        self.issued.set(f"{v.issued.zh} / {v.issued.en}" if v.issued else None)
        self.dcc.show_dcc(v.dcc)

    def texts(self) -> list[str]:
        return [t.text() for t in self.findChildren(Text) if t.isVisibleTo(self) and t.text()]


FIT_SCALES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


class ResultScreen(QWidget):
    """Full-bleed colour, one big result or a grid of tiles, and the guard-alert flashing border."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("result")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.group: GroupView | None = None
        self.colour = IDLE_COLOURS[0]
        self.text_colour = ""
        self.alert_on = False
        self.flash_phase = False
        self._flash = QTimer(self)
        self._flash.setInterval(350)
        self._flash.timeout.connect(self._toggle_flash)
        self.panel = ResultPanel()
        self.group_head_zh = Text(40, True)
        self.group_head_en = Text(24, True)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.tiles: list[Tile] = []
        self.ack_hint = Text(18, True)
        self.note = Text(20, True)
        self.note.setObjectName("note")
        self.note.set(None)
        self.pharmacy = PharmacyPanel()
        self.pharmacy.hide()
        self.guard = GuardBar()
        self.guard.hide()
        lay = QVBoxLayout(self)
        self._layout = lay
        lay.addWidget(self.panel, 1)
        lay.addWidget(self.group_head_zh)
        lay.addWidget(self.group_head_en)
        lay.addWidget(self.grid_host, 1)
        lay.addWidget(self.pharmacy)
        lay.addWidget(self.guard)
        lay.addWidget(self.note)
        lay.addWidget(self.ack_hint)
        self.ack_hint.set(None)

    # --- content ---------------------------------------------------------------------------------
    def show_group(self, group: GroupView) -> None:
        self.group = group
        single = len(group.members) == 1
        kind = group.members[0].kind if single else group.kind
        bg, fg = COLOURS[kind]
        if (bg, fg) != (self.colour, self.text_colour):
            self._restyle(bg, fg)
        self.colour, self.text_colour = bg, fg
        self.panel.setVisible(single)
        self.group_head_zh.set(None if single else group.headline.zh)
        self.group_head_en.set(None if single else group.headline.en)
        self.grid_host.setVisible(not single)
        for t in self.tiles:
            self.grid.removeWidget(t)
            t.hide()
            t.deleteLater()
        self.tiles = []
        if single:
            self.panel.show_view(group.members[0])
        else:
            cols = 2 if len(group.members) <= 4 else 3
            for i, m in enumerate(group.members):
                tile = Tile(m)
                self.tiles.append(tile)
                self.grid.addWidget(tile, i // cols, i % cols)
                # Shown now, not by the layout's queued show: `refit` must see the tiles' texts to fit them.
                tile.show()

    def _restyle(self, bg: str, fg: str) -> None:
        # Restyling is the costliest step of showing a result: done only when the colours change.
        self.setStyleSheet(
            f"#result {{ background: {bg}; }} QLabel {{ color: {fg}; background: transparent; }}"
            f"#reason {{ background: rgba(0,0,0,0.28); border-radius: 8px; }}"
            f"#note {{ background: #ffffff; color: #1a1a1a; border-radius: 6px; padding: 2px 8px; }}"
            # Every state has the same border width, so choosing a drug never changes a button's size.
            f"QPushButton {{ background: #ffffff; color: #1a1a1a; border-radius: 8px; padding: 4px; "
            f"border: 3px solid transparent; }}"
            f"QPushButton:checked {{ background: #0d3d1e; color: #ffffff; border: 3px solid #ffffff; }}"
            f"#confirm {{ background: #0b3d91; color: #ffffff; border: 3px solid #ffffff; }}"
            f"#admit {{ background: #1b7a3a; color: #ffffff; border: 3px solid #ffffff; }}"
            f"#deny {{ background: #c0221c; color: #ffffff; border: 3px solid #ffffff; }}")

    def show_pharmacy(self, on: bool) -> None:
        self.pharmacy.reset()
        self.pharmacy.setVisible(on)

    def show_guard(self, on: bool) -> None:
        self.guard.setVisible(on)
        # Admit / Deny settle an alert too: their hint replaces the acknowledgement's.
        self.ack_hint.setVisible(self.alert_on and not on)

    def refit(self) -> None:
        """Sizes from the window's unit, shrunk in steps while the content is taller than the screen
        (a crowded screen: reason, guard buttons, a note), so text is smaller but never cut or overlapping.
        The window calls it once the content is set (`KioskWindow._show`)."""
        u = unit_of(self)
        m = round(16 * u) + 8
        self._layout.setContentsMargins(m, m, m, m)
        for scale in FIT_SCALES:
            rescale_all(self, u * scale)
            self.pharmacy.rescale(u * scale)
            self.guard.rescale(u * scale)
            if self._all_fit():
                return

    def _all_fit(self) -> bool:
        """Lay the screen out now and see whether every visible text has the height it needs."""
        for w in [self, *self.findChildren(QWidget)]:
            lay = w.layout()
            if lay is not None and w.isVisibleTo(self):
                lay.invalidate()
                lay.activate()
        for t in self.findChildren(Text):
            if t.isVisibleTo(self) and t.text():
                need = t.heightForWidth(t.width()) if t.wordWrap() else t.sizeHint().height()
                if need > t.height() + 1:
                    return False
        return True

    def set_alert(self, on: bool, hint: LocalText = ACK_HINT) -> None:
        self.alert_on = on
        self.ack_hint.set(f"{hint.zh}\n{hint.en}" if on and not self.guard.isVisibleTo(self) else None)
        if on:
            self.flash_phase = True
            self._flash.start()
        else:
            self._flash.stop()
            self.flash_phase = False
        self.update()

    def _toggle_flash(self) -> None:
        self.flash_phase = not self.flash_phase
        self.update()

    def texts(self) -> list[str]:
        return [t.text() for t in self.findChildren(Text) if t.isVisibleTo(self) and t.text()]

    # --- painting --------------------------------------------------------------------------------
    def border_width(self) -> int:
        return round(16 * unit_of(self))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.panel.arrange(portrait(self))
        super().resizeEvent(event)
        self.refit()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.alert_on and self.flash_phase:
            p = QPainter(self)
            w = self.border_width()
            p.setPen(QPen(QColor(ALERT_BORDER), w))
            p.drawRect(QRectF(w / 2, w / 2, self.width() - w, self.height() - w))
            p.end()


class IdleScreen(QWidget):
    """Waiting for the next person: prompt, venue, preview, and any warning that matters now."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("idle")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(f"#idle {{ background: {IDLE_COLOURS[0]}; }} QLabel {{ color: {IDLE_COLOURS[1]}; }}"
                           f"#banner {{ background: {AMBER}; color: #1a1a1a; border-radius: 6px; padding: 4px; }}"
                           "#note { background: #ffffff; color: #1a1a1a; border-radius: 6px; padding: 4px; }")
        self.preview = PreviewView()
        self.prompt_zh = Text(44, True)
        self.prompt_zh.set(PROMPT.zh)
        self.prompt_en = Text(26, True)
        self.prompt_en.set(PROMPT.en)
        self.scanner_only = Text(22, True)
        self.scanner_only.set(None)
        self.venue = Text(22)
        self.count = Text(26, True)
        self.count.set(None)
        self.banner = Text(19, True)
        self.banner.setObjectName("banner")
        self.banner.set(None)
        self.note = Text(20, True)
        self.note.setObjectName("note")
        self.note.set(None)
        side = QVBoxLayout()
        side.addWidget(self.prompt_zh)
        side.addWidget(self.prompt_en)
        side.addWidget(self.scanner_only)
        side.addSpacing(10)
        side.addWidget(self.venue)
        side.addWidget(self.count)
        side.addStretch(1)
        side.addWidget(self.note)
        side.addWidget(self.banner)
        lay = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self._layout = lay
        lay.addWidget(self.preview, 5)
        lay.addLayout(side, 4)

    def set_camera(self, present: bool) -> None:
        """Without a camera there is no preview to show: the screen says the scanner reads the codes."""
        self.preview.setVisible(present)
        self.scanner_only.set(None if present else f"{SCANNER_ONLY.zh}\n{SCANNER_ONLY.en}")

    def set_venue(self, title: LocalText, name: str) -> None:
        self.venue.set(f"{name}\n{title.zh} · {title.en}" if name else f"{title.zh} · {title.en}")

    def set_status(self, s: StatusSnapshot) -> None:
        warn = banners(s)
        self.banner.set("\n".join(f"⚠ {b.zh}\n{b.en}" for b in warn) if warn else None)
        if s.flow == "school":
            self.count.set(f"今晨已入校 {s.admitted_today} 人\nChecked in this morning: {s.admitted_today}")
        else:
            self.count.set(None)

    def resizeEvent(self, event: QResizeEvent) -> None:
        u = unit_of(self)
        self._layout.setContentsMargins(round(12 * u), round(12 * u), round(12 * u), round(12 * u))
        # Portrait: the preview above, the prompt below it.
        self._layout.setDirection(QBoxLayout.Direction.TopToBottom if portrait(self)
                                  else QBoxLayout.Direction.LeftToRight)
        rescale_all(self, u)
        super().resizeEvent(event)


