"""The kiosk's building blocks: scaled text, the drawn result icon, the camera preview, the status bar.

Sizes scale with the window: one unit is 1/480 of the height (or 1/800 of the width, whichever is
smaller; portrait screens the other way round), so the 7-inch 800×480 screen gets the sizes chosen to
be readable at one metre (headline ≥ 40 px, no result text under 20 px, status bar 20 px), a 3.5-inch
480×320 panel ×0.6 and a 1080×1920 portrait terminal ×2.25. The screens built from these are in
`ui.widgets.screens`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QSizePolicy,
    QWidget,
)

from scanner.status import StatusSnapshot
from ui.model.status import CHIP_NAMES, Chip, chips
from ui.model.view import AMBER

FONT_FAMILIES = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "DejaVu Sans"]


def portrait(w: QWidget) -> bool:
    top = w.window()
    return top.height() > top.width()


def unit_of(w: QWidget) -> float:
    """The size unit of `w`'s window: 1.0 on the 800×480 panel; a portrait screen counts as 480 wide, 800 tall."""
    top = w.window()
    width, height = top.width(), top.height()
    if height > width:
        return min(width / 480.0, height / 800.0)
    return min(height / 480.0, width / 800.0)


def bar_unit(w: QWidget) -> float:
    """The status bar's unit: it spans the width, so it scales with the width (1.0 at 800 wide)."""
    top = w.window()
    return min(top.width() / 800.0, top.height() / 480.0)


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


def rescale_all(root: QWidget, unit: float) -> None:
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

    def paintEvent(self, event: QPaintEvent) -> None:
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

    def paintEvent(self, event: QPaintEvent) -> None:
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


class StatusBar(QWidget):
    """Always visible: clock, network and pending uploads, data ages, device, today's counts, failures.

    Two rows of four cells, 20 px at 800×480. Each cell shows the longest of its chip's forms
    (`Chip.forms`) that fits its width, so no text is ever cut or overlaps its neighbour.
    """

    COLUMNS = 4

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("statusbar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#statusbar { background: #0b1117; } QLabel { color: #e8eef3; padding: 0 4px; }"
                           f"QLabel[warn=\"true\"] {{ background: {AMBER}; color: #1a1a1a; border-radius: 4px; }}")
        self.cells: dict[str, QLabel] = {}
        self.chips: list[Chip] = []
        self._lay = QGridLayout(self)
        self._lay.setContentsMargins(4, 2, 4, 2)
        self._lay.setHorizontalSpacing(4)
        self._lay.setVerticalSpacing(2)
        for name in CHIP_NAMES:
            cell = QLabel("…")
            cell.setTextFormat(Qt.TextFormat.PlainText)
            cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
            cell.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            self.cells[name] = cell
        for col in range(self.COLUMNS):
            self._lay.setColumnStretch(col, 1)
        self._place(CHIP_NAMES[:7])  # the failure cells (sound, gate, camera, scanner) appear only on a failure
        self._apply_fonts()

    def _place(self, names: Sequence[str]) -> None:
        """The cells shown, in order, four to a row."""
        for cell in self.cells.values():
            self._lay.removeWidget(cell)
            cell.hide()
        for i, name in enumerate(names):
            self._lay.addWidget(self.cells[name], i // self.COLUMNS, i % self.COLUMNS)
            self.cells[name].show()

    def set_status(self, s: StatusSnapshot) -> None:
        shown = [c.name for c in self.chips]
        self.chips = chips(s)
        if [c.name for c in self.chips] != shown:
            self._place([c.name for c in self.chips])
        for c in self.chips:
            cell = self.cells[c.name]
            if cell.property("warn") != c.warn:
                cell.setProperty("warn", c.warn)
                cell.style().unpolish(cell)
                cell.style().polish(cell)
        self._fit_texts()

    def chip(self, name: str) -> Chip:
        return next(c for c in self.chips if c.name == name)

    def font_px(self) -> int:
        return max(10, round(20 * bar_unit(self)))

    def _apply_fonts(self) -> None:
        f = font(self.font_px(), True)
        for cell in self.cells.values():
            cell.setFont(f)
            cell.setFixedHeight(QFontMetrics(f).height() + 4)
        self._fit_texts()

    def _fit_texts(self) -> None:
        width = (self.width() - 8 - 4 * (self.COLUMNS - 1)) // self.COLUMNS - 10
        for c in self.chips:
            cell = self.cells[c.name]
            metrics = QFontMetrics(cell.font())
            forms = c.forms()
            text = next((t for t in forms if metrics.horizontalAdvance(t) <= width), None)
            cell.setText(text if text is not None
                         else metrics.elidedText(forms[-1], Qt.TextElideMode.ElideMiddle, max(10, width)))
            cell.setToolTip(f"{c.label.zh} {c.label.en}: {c.value}")

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._apply_fonts()
