"""The headless gate's guard keypad (`gate.admit_key` / `gate.deny_key` lines on a text source): a key
answers the decision before it in the stream, never one still to come, and never one long past."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from scanner.clock import FixedClock
from scanner.config import GateSettings, Settings
from scanner.demo.session import demo_core
from scanner.gate.control import Gate
from scanner.gate.runner import GateRunner
from scanner.sources.scanners import LineSource
from tests.helpers.payloads import passenger_codes


@pytest.fixture
def untrusted_gate(tmp_path, world):
    """A gate whose clock is untrusted (no hub, no NTP): every code is a manual check for the guard."""
    factory = MockFactory()
    gate = Gate(GateSettings(output="gpio:17", pulse_ms=30), pin_factory=factory)
    clock = FixedClock(world.now, trusted=False)
    core, _ = demo_core(tmp_path / "g", world=world, gate=gate, clock=clock)
    yield core, clock
    gate.close()
    core.visit_log.close()
    factory.reset()


def run_lines(core: Any, lines: list[str]) -> list[dict]:
    out = io.StringIO()
    source = LineSource(io.BytesIO("".join(line + "\n" for line in lines).encode()), "keypad")
    runner = GateRunner(core, [source], settings=Settings(), out=out, as_json=True)
    assert runner.run(duration=60) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_key_right_behind_a_scan_answers_that_scan(untrusted_gate, world) -> None:
    """A scanner and keypad on one line (or a script piping both): "+" follows the code it admits."""
    core, _ = untrusted_gate
    first, second = passenger_codes(world, 2)
    events = run_lines(core, [first, "+", second, "-"])
    decisions = [e for e in events if e["event"] in ("decision", "guard")]
    assert [(e["event"], e.get("decided_by"), e.get("admit"), e.get("outcome")) for e in decisions] == [
        ("decision", "device", False, "clock_untrusted"),
        ("decision", "guard", True, "clock_untrusted"),
        ("decision", "device", False, "clock_untrusted"),
        ("decision", "guard", False, "clock_untrusted")]
    rows = list(core.visit_log.rows())
    assert [(r["decided_by"], r["admit"], r["gate"]) for r in rows] == [
        ("device", False, None), ("guard", True, "open"), ("device", False, None), ("guard", False, None)]
    assert rows[1]["ref_visit"] == rows[0]["visit_id"] and rows[3]["ref_visit"] == rows[2]["visit_id"]


def test_a_key_long_after_the_manual_check_opens_nothing(untrusted_gate, world, monkeypatch) -> None:
    """The person checked at 08:00 is gone by 14:00: a "+" then must not open the gate for whoever is there."""
    import scanner.gate.runner as runner

    core, _ = untrusted_gate
    monkeypatch.setattr(runner, "GUARD_WINDOW_S", 0.0)  # every key comes "too late"
    events = run_lines(core, [passenger_codes(world, 1)[0], "+"])
    guard = [e for e in events if e["event"] == "guard"]
    assert len(guard) == 1 and "refusal stands" in guard[0]["message"]
    assert not [e for e in events if e["event"] == "gate"]
    assert [(r["decided_by"], r["admit"]) for r in core.visit_log.rows()] == [("device", False)]
