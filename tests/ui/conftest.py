"""Kiosk test fixtures: a real core (trust store, status store, visit log in tmp) on the generated world."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ui.core import KioskCore
from ui.demo_world import demo_core
from ui.sound import RecordingSound


@pytest.fixture
def make_core(tmp_path: Path, world: Any) -> Iterator[Callable[..., KioskCore]]:
    made: list[KioskCore] = []

    def make(profile: str = "transport", clock: Any = None, sub: str = "k") -> KioskCore:
        core, _ = demo_core(tmp_path / f"{sub}{len(made)}", profile=profile, world=world, clock=clock)
        made.append(core)
        return core

    yield make
    for c in made:
        if c.visit_log is not None:
            c.visit_log.close()


@pytest.fixture
def core(make_core: Callable[..., KioskCore]) -> KioskCore:
    return make_core()


@pytest.fixture
def make_window(qtbot: Any) -> Callable[..., Any]:
    from ui.kiosk import KioskWindow

    def make(**kw: Any) -> KioskWindow:
        kw.setdefault("sound", RecordingSound())
        w = KioskWindow(**kw)
        qtbot.addWidget(w)
        w.resize(800, 480)
        w.show()
        qtbot.waitExposed(w)
        return w

    return make
