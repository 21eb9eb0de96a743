"""Gate outputs on gpiozero's own mock pins (real pin state and timing) and a relay board on a real pty."""

from __future__ import annotations

import os
import re
import time

import pytest
from gpiozero.pins.mock import MockFactory

from scanner.config import GateSettings
from scanner.gate.control import Gate, GateAction
from scanner.gate.output import open_output, output_spec_problem


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


def high_periods(pin) -> list[float]:
    """Seconds the pin spent high, from the mock pin's own record of its changes."""
    out, high_since, t = [], None, 0.0
    for change in pin.states:
        t += change.timestamp
        if change.state and high_since is None:
            high_since = t
        elif not change.state and high_since is not None:
            out.append(t - high_since)
            high_since = None
    return out


def test_gpio_pulse_drives_the_pin_high_for_pulse_ms(factory) -> None:
    out = open_output("gpio:17", pin_factory=factory)
    assert out is not None and out.prepare()
    pin = factory.pin(17)
    assert pin.state is False
    assert out.pulse(120)
    assert pin.state is True  # switched in the caller's thread: the turnstile opens at once
    assert wait_for(lambda: pin.state is False)
    (period,) = high_periods(pin)
    assert 0.12 <= period < 0.12 + 0.25
    out.close()


def test_active_low_relay_and_a_pulse_during_a_pulse_extends_it(factory) -> None:
    out = open_output("gpio:22", pin_factory=factory, active_high=False)
    assert out is not None and out.prepare()
    pin = factory.pin(22)
    assert pin.state is True  # idle: released (active low)
    assert out.pulse(150)
    assert pin.state is False
    time.sleep(0.08)
    assert out.pulse(150)
    assert wait_for(lambda: pin.state is True)
    # One opening of about 80 + 150 ms, not two.
    changes = [c.state for c in pin.states[1:]]  # the first entry is the mock pin's initial state
    assert changes == [True, False, True]
    out.close()
    assert pin.state is True


def test_a_busy_pin_is_reported_and_never_blocks_the_decision(factory) -> None:
    from gpiozero import DigitalOutputDevice

    squatter = DigitalOutputDevice(17, pin_factory=factory)
    gate = Gate(GateSettings(output="gpio:17", pulse_ms=50), pin_factory=factory)
    seen: list[GateAction] = []
    gate.add_listener(seen.append)
    assert "in use" in gate.problem
    assert gate.on_decision(True, "device") == "failed"
    assert seen[-1].action == "open" and not seen[-1].ok
    assert gate.health()["state"] == "failed"
    squatter.close()
    gate.output._last_attempt = -1e9  # the retry interval has passed
    assert gate.on_decision(True, "device") == "open"
    assert gate.problem == "" and gate.health() == {"state": "ok", "output": "gpio:17", "error": None, "pulses": 1}
    gate.close()


def test_open_on_and_the_deny_lamp(factory) -> None:
    gate = Gate(GateSettings(output="gpio:17", deny_output="gpio:27", pulse_ms=40, open_on=["guard"]),
                pin_factory=factory)
    door, lamp = factory.pin(17), factory.pin(27)
    assert gate.on_decision(True, "device") is None and door.state is False  # only the guard opens here
    assert gate.on_decision(True, "guard") == "open" and door.state is True
    assert gate.on_decision(False, "device") is None and lamp.state is True
    gate.close()
    assert door.state is False and lamp.state is False


def test_serial_relay_board_gets_the_documented_lines() -> None:
    master, slave = os.openpty()
    try:
        out = open_output(f"serial:{os.ttyname(slave)}", pulse_ms=300)
        assert out is not None and out.pulse(300)
        got = b""
        deadline = time.monotonic() + 5
        while b"OFF\n" not in got and time.monotonic() < deadline:
            got += os.read(master, 64)
        assert got == b"OPEN 300\nOFF\n"
        out.close()
    finally:
        os.close(master)
        os.close(slave)


def test_an_unplugged_relay_board_is_a_problem_not_a_crash(tmp_path) -> None:
    gate = Gate(GateSettings(output=f"serial:{tmp_path / 'ttyUSB9'}"))
    assert "cannot open" in gate.problem
    assert gate.on_decision(True, "device") in ("failed",)


@pytest.mark.parametrize("spec, ok", [("none", True), ("gpio:17", True), ("gpio:99", False), ("gpio:x", False),
                                      ("serial:/dev/ttyUSB0", True), ("serial:/dev/ttyUSB0@115200", True),
                                      ("serial:", False), ("relay", False),
                                      # Digits str.isdigit() knows but int() does not read.
                                      ("gpio:\u00b2", False), ("serial:/dev/ttyUSB0@\u00b2", False)])
def test_output_specs(spec: str, ok: bool) -> None:
    assert (output_spec_problem(spec) is None) is ok


def test_config_names_the_bad_gate_key(tmp_path) -> None:
    from scanner.config import load_settings
    from scanner.errors import ConfigError

    p = tmp_path / "c.toml"
    p.write_text('[gate]\noutput = "gpio:99"\nopen_on = ["always"]\ndeny_output = "serial:/dev/x"\n')
    with pytest.raises(ConfigError) as e:
        load_settings(p)
    text = str(e.value)
    assert "gate.output" in text and "gate.open_on" in text and "gate.deny_output" in text and str(p) in text


def test_config_refuses_the_red_lamp_on_the_turnstiles_own_pin(tmp_path) -> None:
    from scanner.config import load_settings
    from scanner.errors import ConfigError

    p = tmp_path / "c.toml"
    # One pin cannot be both: the lamp's output would fail at every start ("pin already in use").
    p.write_text('[gate]\noutput = "gpio:17"\ndeny_output = "gpio:17"\n')
    with pytest.raises(ConfigError, match=re.escape("gate.deny_output: 'gpio:17' is gate.output's pin too")):
        load_settings(p)
    # The same pin however it is spelt: open_output reads both as BCM 17.
    p.write_text('[gate]\noutput = "gpio:17"\ndeny_output = "gpio:017"\n')
    with pytest.raises(ConfigError, match=re.escape("gate.deny_output: 'gpio:017' is gate.output's pin too")):
        load_settings(p)
    p.write_text('[gate]\noutput = "gpio:17"\ndeny_output = "gpio:27"\n')
    assert load_settings(p).gate.deny_output == "gpio:27"
    p.write_text('[gate]\noutput = "serial:/dev/gpio:17"\ndeny_output = "gpio:17"\n')
    assert load_settings(p).gate.deny_output == "gpio:17"


def test_config_refuses_guard_keys_that_clash_or_could_never_be_pressed(tmp_path) -> None:
    from scanner.config import load_settings
    from scanner.errors import ConfigError

    p = tmp_path / "c.toml"
    # One key for both: every Admit the guard pressed would be logged as a Deny.
    p.write_text('[gate]\nadmit_key = "+"\ndeny_key = "+"\n')
    with pytest.raises(ConfigError, match=re.escape("gate.deny_key: '+' is gate.admit_key too")):
        load_settings(p)
    p.write_text('[gate]\nadmit_key = " "\ndeny_key = "-\\t"\n')
    with pytest.raises(ConfigError) as e:
        load_settings(p)
    assert "gate.admit_key: ' ' has spaces" in str(e.value) and "gate.deny_key: '-\\t' has spaces" in str(e.value)
    p.write_text('[gate]\nadmit_key = ""\ndeny_key = ""\n')  # both off: the keypad is not used
    assert load_settings(p).gate.admit_key == ""


def test_config_refuses_a_gate_that_never_opens(tmp_path) -> None:
    from scanner.config import load_settings
    from scanner.errors import ConfigError

    p = tmp_path / "c.toml"
    p.write_text('[gate]\noutput = "gpio:17"\nopen_on = []\n')
    with pytest.raises(ConfigError, match=re.escape("gate.open_on: empty, the gate would never open")):
        load_settings(p)
    p.write_text('[gate]\noutput = "gpio:17"\nopen_on = ["guard"]\n')
    assert load_settings(p).gate.open_on == ["guard"]
