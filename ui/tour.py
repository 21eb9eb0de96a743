"""A tour of every kiosk screen at one window size, on a generated world: the screenshots and the layout tests.

`tour(width, height, workdir)` yields `(name, window)` with the window showing that screen, fully laid
out; `scripts/screenshots.py` saves each as a PNG and `tests/kiosk/test_layout.py` checks each for
overlapping or clipped text. One list of screens serves both, so what is checked is what is shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication

from ui.widgets.window import KioskWindow

if TYPE_CHECKING:
    from scanner.session import RecentDecision, Session

GATE_NAME = "2号线 东门 · Line 2 East gate"
# Each shot's sample code (see scanner.demo.world).
RESULT_SHOTS = (("green", "green"), ("yellow", "yellow"), ("red", "red"), ("invalid", "forged"),
                ("expired", "expired"), ("guardian", "guardian"), ("printed-card", "card"),
                ("other-region", "other_region"), ("dcc-vaccination", "dcc_vaccination"), ("dcc-test", "dcc_test"),
                ("dcc-expired", "dcc_expired"))


def settle() -> None:
    app = QApplication.instance()
    assert app is not None
    app.processEvents()


def tour(width: int, height: int, workdir: Path, *, now: int | None = None) -> Iterator[tuple[str, KioskWindow]]:
    import numpy as np

    from scanner.clock import FixedClock
    from scanner.demo.camera import family_codes
    from scanner.demo.session import decide_now, demo_core
    from scanner.demo.world import build_demo_world
    from scanner.events import RepeatEvent
    from scanner.pin import hash_pin
    from scanner.policy import builtin_names
    from scanner.sources.synthetic import gate_frame
    from ui.model.pinauth import PinGate
    from ui.preview import to_qimage
    from ui.sound import RecordingSound

    now = now or int(time.time())
    world = build_demo_world(workdir / "world", now)
    cores: list[Session] = []

    def window(core: Session, *, profiles: Sequence[str] = (),
               recent: Callable[[], Sequence[RecentDecision]] | None = None) -> KioskWindow:
        w = KioskWindow(result_seconds=600, sound=RecordingSound(), profiles=profiles, recent=recent)
        w.resize(width, height)
        w.set_venue(core.profile.name, core.profile.title, GATE_NAME)
        w.set_status(core.snapshot())
        w.show()
        settle()
        return w

    def shown(w: KioskWindow) -> KioskWindow:
        settle()
        return w

    try:
        core, _ = demo_core(workdir / "transport", world=world, clock=FixedClock(now + 120))
        cores.append(core)
        w = window(core, profiles=builtin_names(), recent=core.recent_decisions)
        frame, _ = gate_frame(np.random.default_rng(7), [world.payloads["green"]], 640, 480)
        w.set_preview(to_qimage(frame))
        yield "idle", shown(w)
        for shot, sample in RESULT_SHOTS:
            w.clear()
            w.show_decision(decide_now(core, world.payloads[sample]))
            yield shot, shown(w)
            w.acknowledge()
        w.go_idle()
        core.set_family_held(True)  # the guard holds the family key while a parent shows the codes
        for p in [*family_codes(world)[:2], world.payloads["yellow"]]:
            w.show_decision(decide_now(core, p))
        yield "family", shown(w)
        w.go_idle()
        core.set_family_held(False)
        core.set_family_held(True)
        for p in family_codes(world):
            w.show_decision(decide_now(core, p))
        yield "family-admitted", shown(w)
        core.set_family_held(False)
        w.go_idle()
        w.set_status(core.snapshot())
        w.pin_gate = PinGate(hash_pin("1234", ln=10))
        w.open_pin()
        yield "pin", shown(w)
        w.pin.entry.setText("1234")
        w.pin.keys["OK"].click()
        yield "admin", shown(w)
        w.close()

        # Two days without a sync: both lists are out of date, and the clock has lost its reference.
        stale, _ = demo_core(workdir / "stale", world=world, clock=FixedClock(now + 2 * 86400, trusted=False))
        cores.append(stale)
        w = window(stale)
        w.set_preview(to_qimage(frame))
        yield "stale-data", shown(w)
        # The clock cannot be trusted: the guard checks by hand and decides with Admit or Deny.
        w.show_decision(decide_now(stale, world.payloads["national"]))
        yield "manual-check", shown(w)
        w.close()

        # A code admitted a minute ago, shown again: anti-passback, and the same code again at once.
        passback, _ = demo_core(workdir / "passback", world=world, anti_passback=True, clock=FixedClock(now + 60))
        cores.append(passback)
        w = window(passback)
        decide_now(passback, world.payloads["green"])
        w.show_decision(decide_now(passback, world.payloads["green"]))
        w.show_repeat(passback.handle_repeat(RepeatEvent(world.payloads["green"], "tour", 0.0, 1.0)))
        yield "already-admitted", shown(w)
        w.close()

        pharmacy, _ = demo_core(workdir / "pharmacy", profile="pharmacy", world=world, clock=FixedClock(now + 60))
        cores.append(pharmacy)
        w = window(pharmacy)
        w.show_decision(decide_now(pharmacy, world.payloads["national"]))
        w.result.pharmacy.buttons["antipyretic"].setChecked(True)
        yield "pharmacy", shown(w)
        w.result.pharmacy.confirm.click()
        yield "pharmacy-registered", shown(w)
        w.close()

        # A hospital takes a negative test only: a valid vaccination certificate is refused by that rule,
        # whose description the screen shows.
        hospital, _ = demo_core(workdir / "hospital", profile="hospital", world=world, clock=FixedClock(now + 60))
        cores.append(hospital)
        w = window(hospital)
        w.show_decision(decide_now(hospital, world.payloads["dcc_vaccination"]))
        yield "dcc-refused-by-rule", shown(w)
        w.close()

        school, _ = demo_core(workdir / "school", profile="school", world=world, clock=FixedClock(now + 60))
        cores.append(school)
        for name in ("green", "card", "national"):
            decide_now(school, world.payloads[name])
        w = window(school)
        w.set_preview(to_qimage(frame))
        yield "school-idle", shown(w)
        w.show_decision(decide_now(school, world.payloads["guardian"]))
        yield "school-guardian", shown(w)
        w.go_idle()
        w.show_decision(decide_now(school, world.payloads["red"]))
        yield "school-red", shown(w)
        w.close()
    finally:
        for c in cores:
            c.close()
