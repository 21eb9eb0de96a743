"""The admin PIN lock-out survives a kiosk restart (a new `PinGate` over the same data directory)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from scanner.pin import hash_pin
from scanner.storage.datadir import DataDir
from ui.model.pinauth import MAX_LOCK_SECONDS, PinGate

HASH = hash_pin("2468", ln=10)


class Device:
    """The clocks of one device: a monotonic clock that restarts with each boot, a settable wall clock."""

    def __init__(self) -> None:
        self.mono, self.wall, self.boot = 500.0, 1_800_000_000.0, "boot-1"

    def gate(self, data_dir: Path) -> PinGate:
        return PinGate(HASH, max_attempts=3, lockout_seconds=60, clock=lambda: self.mono,
                       wall=lambda: self.wall, boot_id=lambda: self.boot, data_dir=data_dir)

    def wait(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds

    def reboot(self, off_for: float) -> None:
        self.mono, self.boot = 10.0, self.boot + "'"
        self.wall += off_for


def lock_out(gate: PinGate) -> None:
    for pin in ("1111", "2222", "3333"):
        result = gate.attempt(pin)
    assert not result.ok and result.locked_for == 60


def test_restart_within_a_boot_keeps_the_lockout_whatever_the_wall_clock(tmp_path: Path) -> None:
    dev = Device()
    lock_out(dev.gate(tmp_path))
    dev.wait(20)
    dev.wall += 10 * 86400  # setting the wall clock forward does not end it
    again = dev.gate(tmp_path)
    assert again.locked_for() == pytest.approx(40)
    assert not again.attempt("2468").ok
    dev.wall -= 20 * 86400  # nor does setting it back stretch it
    assert dev.gate(tmp_path).locked_for() == pytest.approx(40)
    dev.wait(41)
    assert dev.gate(tmp_path).attempt("2468").ok


def test_wrong_tries_and_the_doubling_survive_a_restart(tmp_path: Path) -> None:
    dev = Device()
    gate = dev.gate(tmp_path)
    lock_out(gate)
    dev.wait(61)
    gate = dev.gate(tmp_path)
    assert gate.attempt("1111").attempts_left == 2
    assert dev.gate(tmp_path).attempt("2222").attempts_left == 1  # a restart is no fresh set of guesses
    result = dev.gate(tmp_path).attempt("3333")
    assert result.locked_for == 120  # the second lock-out doubles, restarts or not
    dev.wait(121)
    gate = dev.gate(tmp_path)
    assert gate.attempt("2468").ok
    assert dev.gate(tmp_path).attempt("1111").attempts_left == 2  # the right PIN cleared the count


def test_power_cycle_keeps_the_lockout_on_the_wall_clock_bounded_by_its_length(tmp_path: Path) -> None:
    dev = Device()
    lock_out(dev.gate(tmp_path))
    dev.reboot(off_for=15)
    assert dev.gate(tmp_path).locked_for() == pytest.approx(45)
    dev.reboot(off_for=-365 * 86400)  # the clock came back a year behind: still only the lock-out's length
    assert dev.gate(tmp_path).locked_for() == pytest.approx(60)
    dev.reboot(off_for=366 * 86400)
    assert dev.gate(tmp_path).attempt("2468").ok


def test_no_lockout_is_longer_than_a_day(tmp_path: Path) -> None:
    dev = Device()
    path = DataDir(tmp_path).pin_lockout
    path.write_text(json.dumps({"failures": 0, "lockouts": 40, "boot_id": "other", "mono_until": 0,
                                "locked_until": dev.wall + 10**9}), encoding="utf-8")
    assert dev.gate(tmp_path).locked_for() == MAX_LOCK_SECONDS
    gate = PinGate(HASH, max_attempts=1, lockout_seconds=86400, clock=lambda: dev.mono,
                   wall=lambda: dev.wall, boot_id=lambda: dev.boot)
    gate.attempt("1")
    dev.wait(86401)
    assert gate.attempt("1").locked_for == MAX_LOCK_SECONDS  # the doubling stops at a day


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[]", b'{"failures": 2}',
                                     b'{"failures": true, "lockouts": 1, "boot_id": "b", "mono_until": 0,'
                                     b' "locked_until": 0}',
                                     b'{"failures": 0, "lockouts": 1, "boot_id": "b", "mono_until": 1e308,'
                                     b' "locked_until": 1e308}'])
def test_a_damaged_state_file_means_no_lockout_and_is_logged(tmp_path: Path, content: bytes,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    DataDir(tmp_path).pin_lockout.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="ui.model.pinauth"):
        gate = Device().gate(tmp_path)
    assert gate.locked_for() == 0
    assert "pin-lockout.json" in caplog.text
    assert gate.attempt("2468").ok


def test_an_unwritable_data_dir_still_locks_out_in_memory(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    gate = Device().gate(blocker)  # the "data directory" is a file: nothing can be saved in it
    with caplog.at_level(logging.ERROR, logger="ui.model.pinauth"):
        lock_out(gate)
    assert gate.locked_for() == 60 and "cannot save" in caplog.text
