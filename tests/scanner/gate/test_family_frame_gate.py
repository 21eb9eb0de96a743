"""The headless gate and a family in one camera frame (real QR pixels): the turnstile follows the group."""

from __future__ import annotations

import io
import json

from gpiozero.pins.mock import MockFactory

from scanner.config import GateSettings, Settings
from scanner.demo.session import demo_core
from scanner.gate.control import Gate
from scanner.gate.runner import GateRunner
from scanner.sources.synthetic import SyntheticSource
from tests.helpers.payloads import passenger_codes


def run_frame(tmp_path, world, payloads: list[str]) -> tuple[list[dict], list, list]:
    factory = MockFactory()
    gate = Gate(GateSettings(output="gpio:17", pulse_ms=30), pin_factory=factory)
    core, _ = demo_core(tmp_path, world=world, gate=gate, anti_passback=True)
    try:
        out = io.StringIO()
        source = SyntheticSource([payloads], fps=None, frames=1, seed=5)
        assert GateRunner(core, [source], settings=Settings(), out=out, as_json=True).run(duration=60) == 0
        events = [json.loads(line) for line in out.getvalue().splitlines()]
        rows = list(core.visit_log.rows())
        switched = [c.state for c in factory.pin(17).states[1:]]
    finally:
        gate.close()
        core.visit_log.close()
        factory.reset()
    return events, rows, switched


def test_a_family_with_a_red_member_leaves_the_turnstile_shut(tmp_path, world) -> None:
    events, rows, switched = run_frame(tmp_path, world, [*passenger_codes(world, 2), world.payloads["red"]])
    decisions = [e for e in events if e["event"] == "decision"]
    assert sorted(e["admit"] for e in decisions) == [False, True, True]
    assert [e for e in events if e["event"] == "gate"] == [] and switched == []
    assert [r["gate"] for r in rows] == [None, None, None]


def test_an_admitted_family_opens_the_turnstile_for_each_member(tmp_path, world) -> None:
    events, rows, switched = run_frame(tmp_path, world, passenger_codes(world, 3))
    assert [e["action"] for e in events if e["event"] == "gate"] == ["open"] * 3
    assert [r["gate"] for r in rows] == ["open"] * 3 and switched[0] is True
