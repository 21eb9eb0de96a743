"""The kiosk and a family in one camera frame (real QR pixels): the screen's group verdict drives the turnstile."""

from __future__ import annotations

from typing import Any

from gpiozero.pins.mock import MockFactory

from scanner.config import CameraSettings, GateSettings
from scanner.demo.session import demo_core
from scanner.gate.control import Gate
from scanner.sources.synthetic import SyntheticSource
from tests.helpers.payloads import passenger_codes
from ui.app import KioskApp, KioskOptions
from ui.sound import RecordingSound


def test_a_family_with_a_red_member_is_stopped_on_screen_and_at_the_turnstile(tmp_path: Any, world: Any,
                                                                             show_kiosk: Any, qtbot: Any) -> None:
    factory = MockFactory()
    gate = Gate(GateSettings(output="gpio:17", pulse_ms=30), pin_factory=factory)
    core, _ = demo_core(tmp_path / "k", world=world, gate=gate, anti_passback=True)
    actions: list[Any] = []
    gate.add_listener(actions.append)
    family = [*passenger_codes(world, 2), world.payloads["red"]]
    try:
        k = show_kiosk(KioskApp(core, [SyntheticSource([family], fps=None, frames=1, seed=5)],
                                sound=RecordingSound(), options=KioskOptions(result_seconds=30),
                                camera_settings=CameraSettings(debounce=30)))
        k.start()
        qtbot.waitUntil(lambda: k.window.group() is not None and len(k.window.group().members) == 3, timeout=20000)
        assert not k.window.group().admit and not k.window.queue  # the screen says the group is stopped...
        # ...and counts nobody admitted, as the log does (the green members' own colour stays on their cards).
        assert k.window.group().headline.en.endswith("(0 of 3 admitted)")
        assert sorted(m.kind for m in k.window.group().members) == ["pass", "pass", "red"]
        assert actions == [] and [c.state for c in factory.pin(17).states[1:]] == []  # ...and so does the gate
        assert [r["gate"] for r in core.visit_log.rows()] == [None, None, None]
    finally:
        gate.close()
        core.visit_log.close()
        factory.reset()
