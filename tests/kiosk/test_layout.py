"""Any screen, readable at a metre: every screen of the tour at four sizes, with no text cut off or overlapping."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from ui.tour import tour

SIZES = ((480, 320), (800, 480), (1280, 800), (800, 1280), (1080, 1920))


def text_boxes(window: QWidget) -> list[tuple[QWidget, str, QRect]]:
    """Every visible text on the window: the widget, its text, and where the text is painted (window coordinates)."""
    out = []
    for w in window.findChildren(QLabel) + window.findChildren(QAbstractButton):
        text = w.text()
        if not text or not w.isVisibleTo(window):
            continue
        area = w.contentsRect()
        flags = int(Qt.AlignmentFlag.AlignCenter if isinstance(w, QAbstractButton) else w.alignment())
        if isinstance(w, QLabel) and w.wordWrap():
            flags |= int(Qt.TextFlag.TextWordWrap)
        painted = QFontMetrics(w.font()).boundingRect(area, flags, text)
        out.append((w, text, painted.translated(w.mapTo(window, QPoint(0, 0)))))
    return out


def problems_on(name: str, window: QWidget) -> list[str]:
    out = []
    frame = window.rect()
    boxes = text_boxes(window)
    for w, text, box in boxes:
        own = QRect(w.mapTo(window, QPoint(0, 0)), w.size())
        # One pixel of slack for anti-aliased font metrics.
        if box.height() > own.height() + 1 or box.width() > own.width() + 1:
            out.append(f"{name}: {text!r} cut off ({box.width()}x{box.height()} in {own.width()}x{own.height()})")
        if isinstance(w, QAbstractButton) and w.width() + 1 < w.minimumSizeHint().width():
            out.append(f"{name}: button {text!r} squeezed ({w.width()} < {w.minimumSizeHint().width()} px)")
        if not frame.contains(box.adjusted(1, 1, -1, -1)):
            out.append(f"{name}: {text!r} outside the window")
    for i, (wa, ta, a) in enumerate(boxes):
        for wb, tb, b in boxes[i + 1:]:
            if wa.isAncestorOf(wb) or wb.isAncestorOf(wa):
                continue
            if a.adjusted(1, 1, -1, -1).intersects(b.adjusted(1, 1, -1, -1)):
                out.append(f"{name}: {ta!r} overlaps {tb!r}")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_no_text_cut_off_or_overlapping(size: tuple[int, int], tmp_path: Path, qtbot: Any) -> None:
    width, height = size
    problems: list[str] = []
    seen = []
    for name, window in tour(width, height, tmp_path):
        assert (window.width(), window.height()) == size, name
        problems += problems_on(name, window)
        seen.append(name)
    assert {"idle", "green", "red", "expired", "family", "pharmacy", "pin", "admin", "stale-data"} <= set(seen)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_headline_and_icon_grow_with_the_screen_and_the_status_bar_is_readable(tmp_path: Path, qtbot: Any) -> None:
    sizes: dict[tuple[int, int], tuple[int, int, int]] = {}
    for width, height in ((480, 320), (800, 480), (800, 1280), (1080, 1920)):
        for name, window in tour(width, height, tmp_path / f"{width}x{height}"):
            if name == "green":
                panel = window.result.panel
                bar = min(c.font().pixelSize() for c in window.status_bar.cells.values() if c.isVisible())
                sizes[(width, height)] = (panel.icon.width(), panel.headline_zh.font().pixelSize(), bar)
                break
    assert sizes[(800, 480)][2] >= 20, "status bar text under 20 px at 800x480"
    assert sizes[(800, 480)][1] >= 40, "headline under 40 px at 800x480"
    order = [(480, 320), (800, 480), (800, 1280), (1080, 1920)]
    for small, big in pairwise(order):
        assert sizes[big][0] > sizes[small][0] and sizes[big][1] > sizes[small][1], (small, big, sizes)


def test_committed_screenshots_cover_every_size() -> None:
    from tests.helpers import REPO

    shots = REPO / "docs" / "screenshots"
    for folder in (shots, shots / "480x320", shots / "1280x800", shots / "800x1280"):
        names = {p.stem for p in folder.glob("*.png")}
        assert {"idle", "green", "red", "expired", "family", "pharmacy", "admin"} <= names, folder


def test_the_checker_sees_overlapping_and_cut_off_text(qtbot: Any) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    host.resize(300, 200)
    a, b = QLabel("重叠 overlapping", host), QLabel("重叠 overlapping", host)
    a.setGeometry(10, 10, 200, 40)
    b.setGeometry(20, 20, 200, 40)
    cut = QLabel("a line far too long for its little box", host)
    cut.setGeometry(10, 120, 40, 30)
    host.show()
    found = problems_on("probe", host)
    assert any("overlaps" in p for p in found) and any("cut off" in p for p in found)


@pytest.mark.parametrize("size", [(800, 480), (480, 320)], ids=["800x480", "480x320"])
def test_a_family_of_six_in_one_frame_fits(size: tuple[int, int], make_core: Any, world: Any, qtbot: Any) -> None:
    """A parent with five children at the school gate, one of them red: six tiles, none cut off or overlapping
    (the screen is fitted after its tiles are shown; fitted before, a big family spills over itself)."""
    import time

    from scanner.events import DecisionEvent
    from tests.helpers.payloads import passenger_codes
    from ui.app import KioskApp, KioskOptions
    from ui.sound import RecordingSound

    core = make_core("school")
    k = KioskApp(core, [], sound=RecordingSound(), options=KioskOptions(result_seconds=30))
    qtbot.addWidget(k.window)
    k.window.resize(*size)
    k.window.show()
    t0 = time.monotonic()
    for p in [*passenger_codes(world, 5), world.payloads["red"]]:
        d = core.checker.check(p)
        k.decided.emit(core.handle(DecisionEvent(d, p, p.encode(), "camera", t0, time.monotonic(), 0, 0, 6)))
    group = k.window.group()
    assert group is not None and len(group.members) == 6 and not group.admit
    qtbot.wait_until(lambda: all(t.isVisible() for t in k.window.result.tiles))
    assert not problems_on("family of six", k.window)
    k.stop()
