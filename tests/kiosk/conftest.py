"""Kiosk test fixtures: a real `Session` (trust store, status store, visit log in tmp) on the generated world."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.demo.session import demo_core
from scanner.session import Session
from ui.sound import RecordingSound


@pytest.fixture
def make_core(tmp_path: Path, world: Any) -> Iterator[Callable[..., Session]]:
    made: list[Session] = []

    def make(profile: str = "transport", clock: Any = None, sub: str = "k") -> Session:
        core, _ = demo_core(tmp_path / f"{sub}{len(made)}", profile=profile, world=world, clock=clock)
        made.append(core)
        return core

    yield make
    for c in made:
        if c.visit_log is not None:
            c.visit_log.close()


@pytest.fixture
def core(make_core: Callable[..., Session]) -> Session:
    return make_core()


@pytest.fixture
def make_window(qtbot: Any) -> Callable[..., Any]:
    from ui.widgets.window import KioskWindow

    def make(**kw: Any) -> KioskWindow:
        kw.setdefault("sound", RecordingSound())
        w = KioskWindow(**kw)
        qtbot.addWidget(w)
        w.resize(800, 480)
        w.show()
        qtbot.waitExposed(w)
        return w

    return make


@pytest.fixture
def show_kiosk(qtbot: Any) -> Iterator[Callable[[Any], Any]]:
    """Shows a kiosk's window at the kiosk's 800x480 under qtbot, and stops every kiosk shown at the end."""
    shown: list[Any] = []

    def show(k: Any) -> Any:
        qtbot.addWidget(k.window)
        k.window.resize(800, 480)
        k.window.show()
        shown.append(k)
        return k

    yield show
    for k in shown:
        k.stop()
