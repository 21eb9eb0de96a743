"""The kiosk's screens: idle (camera preview and prompt), result (one person or family tiles), status bar.

Widgets only paint what `ui.view` and `ui.status` computed; they hold no decision logic. Sizes scale
with the window: one unit is 1/480 of the height (or 1/800 of the width, whichever is smaller), so the
7-inch 800×480 screen gets the minimum sizes, chosen to be readable at one metre (headline ≥ 40 px,
no result text under 20 px), and a 1080p screen gets them ×2.25.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from keys.trustlist import LocalText
from ui.qtfix import immortalize_singletons
from ui.status import CHIP_NAMES, Chip, StatusSnapshot, banners, chips
from ui.view import ACK_HINT, ALERT_BORDER, AMBER, COLOURS, IDLE_COLOURS, PRINTED_CARD, PROMPT, GroupView, ResultView

immortalize_singletons()  # idempotent; see ui/qtfix.py

FONT_FAMILIES = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "DejaVu Sans"]


def unit_of(w: QWidget) -> float:
    return max(1.0, min(w.height() / 480.0, w.width() / 800.0))


def font(px: float, bold: bool = False) -> QFont:
    f = QFont()
    f.setFamilies(FONT_FAMILIES)
    f.setPixelSize(max(8, round(px)))
    f.setBold(bold)
    return f


class Text(QLabel):
    """A label whose pixel size is `size` units of its window."""

    def __init__(self, size: float, bold: bool = False, parent: QWidget | None = None, wrap: bool = True):
        super().__init__(parent)
        self.size_units = size
        self.bold = bold
        self.setWordWrap(wrap)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

    def rescale(self, unit: float) -> None:
        self.setFont(font(self.size_units * unit, self.bold))

    def set(self, text: str | None) -> None:
        self.setText(text or "")
        self.setVisible(bool(text))


def _rescale_all(root: QWidget, unit: float) -> None:
    for t in root.findChildren(Text):
        t.rescale(unit)
    for b in root.findChildren(IconBadge):
        b.rescale(unit)


class IconBadge(QWidget):
    """The big symbol (✓ ! ✕ ?) drawn with strokes in a ring, so no font can turn it into a box."""

    def __init__(self, size: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.size_units = size
        self.symbol = ""
        self.colour = QColor("#ffffff")
        self.rescale(1.0)

    def rescale(self, unit: float) -> None:
        side = round(self.size_units * unit)
        self.setFixedSize(side, side)

    def set(self, symbol: str, colour: str) -> None:
        self.symbol = symbol
        self.colour = QColor(colour)
        self.update()

    def paintEvent(self, event: Any) -> None:
        if not self.symbol:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = float(self.width())
        w = s * 0.09
        pen = QPen(self.colour, w)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        p.drawEllipse(QRectF(w / 2, w / 2, s - w, s - w))
        pen.setWidthF(s * 0.12)
        p.setPen(pen)

        def line(x1: float, y1: float, x2: float, y2: float) -> None:
            p.drawLine(QPointF(x1 * s, y1 * s), QPointF(x2 * s, y2 * s))

        if self.symbol == "✓":
            line(0.27, 0.52, 0.44, 0.69)
            line(0.44, 0.69, 0.74, 0.33)
        elif self.symbol == "✕":
            line(0.32, 0.32, 0.68, 0.68)
            line(0.68, 0.32, 0.32, 0.68)
        elif self.symbol == "!":
            line(0.5, 0.24, 0.5, 0.58)
            p.drawPoint(QPointF(0.5 * s, 0.76 * s))
        else:  # "?"
            path = QPainterPath(QPointF(0.36 * s, 0.38 * s))
            path.arcTo(QRectF(0.36 * s, 0.22 * s, 0.28 * s, 0.28 * s), 180, -270)
            path.lineTo(QPointF(0.5 * s, 0.6 * s))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
            p.drawPoint(QPointF(0.5 * s, 0.77 * s))
        p.end()


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
        self.reason_box = QFrame()
        self.reason_box.setObjectName("reason")
        rb = QVBoxLayout(self.reason_box)
        rb.setContentsMargins(12, 6, 12, 6)
        rb.setSpacing(0)
        rb.addWidget(self.reason_zh)
        rb.addWidget(self.reason_en)
        top = QHBoxLayout()
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
        lay.addLayout(top)
        lay.addWidget(self.reason_box)
        lay.addWidget(self.person)
        lay.addWidget(self.guardian)
        lay.addWidget(self.card)
        lay.addStretch(1)

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

    def texts(self) -> list[str]:
        return [t.text() for t in self.findChildren(Text) if t.isVisibleTo(self) and t.text()]


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
        self.confirm = QPushButton("登记\nRegister")
        self.confirm.setObjectName("confirm")
        self.confirm.clicked.connect(self._confirm)
        lay.addWidget(self.confirm)

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


class ResultScreen(QWidget):
    """Full-bleed colour, one big result or a grid of tiles, and the guard-alert flashing border."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("result")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.group: GroupView | None = None
        self.colour = IDLE_COLOURS[0]
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
        self.pharmacy = PharmacyPanel()
        self.pharmacy.hide()
        lay = QVBoxLayout(self)
        self._layout = lay
        lay.addWidget(self.panel, 1)
        lay.addWidget(self.group_head_zh)
        lay.addWidget(self.group_head_en)
        lay.addWidget(self.grid_host, 1)
        lay.addWidget(self.pharmacy)
        lay.addWidget(self.ack_hint)
        self.ack_hint.set(None)

    # --- content ---------------------------------------------------------------------------------
    def show_group(self, group: GroupView) -> None:
        self.group = group
        single = len(group.members) == 1
        kind = group.members[0].kind if single else group.kind
        bg, fg = COLOURS[kind]
        self.colour, self.text_colour = bg, fg
        self.setStyleSheet(
            f"#result {{ background: {bg}; }} QLabel {{ color: {fg}; background: transparent; }}"
            f"#reason {{ background: rgba(0,0,0,0.28); border-radius: 8px; }}"
            f"QPushButton {{ background: #ffffff; color: #1a1a1a; border-radius: 8px; padding: 4px; }}"
            f"QPushButton:checked {{ background: #0d3d1e; color: #ffffff; border: 3px solid #ffffff; }}")
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
        _rescale_all(self, unit_of(self))

    def show_pharmacy(self, on: bool) -> None:
        self.pharmacy.reset()
        self.pharmacy.setVisible(on)

    def set_alert(self, on: bool) -> None:
        self.alert_on = on
        self.ack_hint.set(f"{ACK_HINT.zh}\n{ACK_HINT.en}" if on else None)
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

    def resizeEvent(self, event: Any) -> None:
        u = unit_of(self)
        m = round(16 * u) + 8
        self._layout.setContentsMargins(m, m, m, m)
        _rescale_all(self, u)
        self.pharmacy.rescale(u)
        super().resizeEvent(event)

    def paintEvent(self, event: Any) -> None:
        super().paintEvent(event)
        if self.alert_on and self.flash_phase:
            p = QPainter(self)
            w = self.border_width()
            p.setPen(QPen(QColor(ALERT_BORDER), w))
            p.drawRect(QRectF(w / 2, w / 2, self.width() - w, self.height() - w))
            p.end()


class PreviewView(QWidget):
    """The live camera image, letter-boxed, with a guide frame where the code should be held."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.frames = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage) -> None:
        self.image = image
        self.frames += 1
        self.update()

    def paintEvent(self, event: Any) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#000000"))
        if self.image is not None and not self.image.isNull():
            pix = QPixmap.fromImage(self.image).scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.FastTransformation)
            p.drawPixmap((self.width() - pix.width()) // 2, (self.height() - pix.height()) // 2, pix)
        side = min(self.width(), self.height()) * 0.7
        r = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        pen = QPen(QColor("#3ddc84"), max(3.0, side / 60))
        p.setPen(pen)
        leg = side / 5
        for (x, y, dx, dy) in ((r.left(), r.top(), 1, 1), (r.right(), r.top(), -1, 1),
                               (r.left(), r.bottom(), 1, -1), (r.right(), r.bottom(), -1, -1)):
            p.drawLine(round(x), round(y), round(x + dx * leg), round(y))
            p.drawLine(round(x), round(y), round(x), round(y + dy * leg))
        p.end()


class IdleScreen(QWidget):
    """Waiting for the next person: prompt, venue, preview, and any warning that matters now."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("idle")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(f"#idle {{ background: {IDLE_COLOURS[0]}; }} QLabel {{ color: {IDLE_COLOURS[1]}; }}"
                           f"#banner {{ background: {AMBER}; color: #1a1a1a; border-radius: 6px; padding: 4px; }}")
        self.preview = PreviewView()
        self.prompt_zh = Text(44, True)
        self.prompt_zh.set(PROMPT.zh)
        self.prompt_en = Text(26, True)
        self.prompt_en.set(PROMPT.en)
        self.venue = Text(22)
        self.count = Text(26, True)
        self.count.set(None)
        self.banner = Text(19, True)
        self.banner.setObjectName("banner")
        self.banner.set(None)
        side = QVBoxLayout()
        side.addWidget(self.prompt_zh)
        side.addWidget(self.prompt_en)
        side.addSpacing(10)
        side.addWidget(self.venue)
        side.addWidget(self.count)
        side.addStretch(1)
        side.addWidget(self.banner)
        lay = QHBoxLayout(self)
        self._layout = lay
        lay.addWidget(self.preview, 5)
        lay.addLayout(side, 4)

    def set_venue(self, title: LocalText, name: str) -> None:
        self.venue.set(f"{name}\n{title.zh} · {title.en}" if name else f"{title.zh} · {title.en}")

    def set_status(self, s: StatusSnapshot) -> None:
        warn = banners(s)
        self.banner.set("\n".join(f"⚠ {b.zh}\n{b.en}" for b in warn) if warn else None)
        if s.flow == "school":
            self.count.set(f"今晨已入校 {s.admitted_today} 人\nChecked in this morning: {s.admitted_today}")
        else:
            self.count.set(None)

    def resizeEvent(self, event: Any) -> None:
        u = unit_of(self)
        self._layout.setContentsMargins(round(12 * u), round(12 * u), round(12 * u), round(12 * u))
        _rescale_all(self, u)
        super().resizeEvent(event)


class StatusBar(QWidget):
    """Always visible: clock, network and pending uploads, data ages, device, today's counts."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("statusbar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#statusbar { background: #0b1117; } QLabel { color: #e8eef3; }"
                           f"QLabel[warn=\"true\"] {{ background: {AMBER}; color: #1a1a1a; border-radius: 4px; }}")
        self.cells: dict[str, QLabel] = {}
        self.chips: list[Chip] = []
        self._lay = QHBoxLayout(self)
        self._lay.setContentsMargins(6, 2, 6, 2)
        self._lay.setSpacing(6)
        for name in CHIP_NAMES:
            cell = QLabel("…\n…")
            cell.setTextFormat(Qt.TextFormat.PlainText)
            cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.cells[name] = cell
            self._lay.addWidget(cell, 2 if name == "device" else 1)
        self._apply_fonts()

    def set_status(self, s: StatusSnapshot) -> None:
        self.chips = chips(s)
        for c in self.chips:
            cell = self.cells[c.name]
            cell.setText(f"{c.label.zh} {c.label.en}\n{c.value}")
            if cell.property("warn") != c.warn:
                cell.setProperty("warn", c.warn)
                cell.style().unpolish(cell)
                cell.style().polish(cell)
        self._apply_fonts()

    def chip(self, name: str) -> Chip:
        return next(c for c in self.chips if c.name == name)

    def _apply_fonts(self) -> None:
        u = max(1.0, self.width() / 800.0)
        for cell in self.cells.values():
            cell.setFont(font(12 * u, True))

    def resizeEvent(self, event: Any) -> None:
        self._apply_fonts()
        super().resizeEvent(event)
