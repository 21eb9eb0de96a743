"""TrustedClock: first boot, set-back, jumps, restarts and reboots, recovery from hub time."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scanner.clock import (
    JUMP,
    LATEST_PLAUSIBLE_TIME,
    NO_REFERENCE,
    SET_BACK,
    UNCONFIRMED,
    FixedClock,
    SystemClock,
    TrustedClock,
)
from scanner.config import ClockSettings

T0 = 1_790_000_000.0  # 2026-09
SETTINGS = ClockSettings(tolerance=300, jump_threshold=600, persist_interval=60)


class FakeTime:
    """The wall clock, the monotonic clock and the boot id a device would see."""

    def __init__(self, wall: float, mono: float = 1000.0, boot: str = "boot-1"):
        self.wall, self.mono, self.boot = wall, mono, boot

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    def reboot(self, wall: float) -> None:
        self.wall, self.mono, self.boot = wall, 5.0, self.boot + "+"

    def clock(self, path: Path, settings: ClockSettings = SETTINGS) -> TrustedClock:
        return TrustedClock(path, settings, wall=lambda: self.wall, monotonic=lambda: self.mono,
                            boot_id=lambda: self.boot)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "clock.json"


def trusted_clock(path: Path, t: FakeTime) -> TrustedClock:
    clock = t.clock(path)
    clock.confirm(t.wall)
    return clock


def test_first_boot_without_persisted_time_is_untrusted_until_hub_confirms(path: Path) -> None:
    t = FakeTime(T0)
    clock = t.clock(path)
    state = clock.state()
    assert not clock.trusted()
    assert state.reason == NO_REFERENCE
    assert state.last_good is None
    assert clock.now() == T0
    assert not path.exists()

    state = clock.confirm(T0 + 10)
    assert state.trusted and state.reason is None
    assert clock.trusted()
    assert clock.now() == T0  # within tolerance: the system time is used as is
    saved = json.loads(path.read_text())
    assert saved["trusted"] is True
    assert saved["last_good"] == T0


def test_trusted_state_survives_a_restart_and_a_reboot_with_sane_time(path: Path) -> None:
    t = FakeTime(T0)
    trusted_clock(path, t)
    t.advance(30)
    assert t.clock(path).trusted()  # service restart, same boot
    t.reboot(T0 + 3600)  # a power cut of an hour, clock restored by NTP or RTC
    clock = t.clock(path)
    assert clock.trusted()
    assert clock.now() == T0 + 3600


def test_set_back_at_start_beyond_tolerance_is_untrusted(path: Path) -> None:
    t = FakeTime(T0)
    trusted_clock(path, t)
    t.reboot(T0 - 86400 * 365)  # no RTC: booted a year in the past
    clock = t.clock(path)
    assert not clock.trusted()
    assert clock.state().reason == SET_BACK


def test_far_ahead_at_start_after_a_reboot_is_untrusted(path: Path) -> None:
    """A clock that boots years ahead (a bad RTC) is untrusted: trusted, it would read every code as expired,
    a confident red for every holder instead of a manual check."""
    t = FakeTime(T0)
    trusted_clock(path, t)
    t.reboot(T0 + 86400 * 365 * 20)
    clock = t.clock(path)
    assert not clock.trusted() and clock.state().reason == JUMP
    assert json.loads(path.read_text())["last_good"] == pytest.approx(T0)  # the reference is kept
    t.reboot(T0 + 86400 * (SETTINGS.reboot_ahead_days - 1))  # off for weeks, an RTC kept the time
    assert t.clock(path).trusted() is False  # still untrusted from the boot before, until confirmed
    path.unlink()
    trusted_clock(path, t)
    t.reboot(t.wall + 86400 * (SETTINGS.reboot_ahead_days - 1))
    assert t.clock(path).trusted()
    path.unlink()
    trusted_clock(path, t)
    t.reboot(t.wall + 86400 * (SETTINGS.reboot_ahead_days + 1))  # just past the bound
    assert not t.clock(path).trusted()


def test_set_back_within_tolerance_stays_trusted(path: Path) -> None:
    t = FakeTime(T0)
    trusted_clock(path, t)
    t.reboot(T0 - 200)
    assert t.clock(path).trusted()


def test_set_back_during_operation_below_the_jump_threshold(path: Path) -> None:
    t = FakeTime(T0)
    clock = trusted_clock(path, t)
    t.advance(120)
    assert clock.trusted()
    t.wall -= 400  # a manual change smaller than the jump threshold but beyond the tolerance
    assert not clock.trusted()
    assert clock.state().reason == SET_BACK
    assert json.loads(path.read_text())["reason"] == SET_BACK


def test_jump_forward_against_the_monotonic_clock(path: Path) -> None:
    t = FakeTime(T0)
    clock = trusted_clock(path, t)
    t.advance(10)
    t.wall += 86400 * 30  # a month ahead, which a set-back check alone would never see
    assert not clock.trusted()
    state = clock.state()
    assert state.reason == JUMP
    assert state.last_good == pytest.approx(T0 + 10)


def test_small_drift_is_not_a_jump(path: Path) -> None:
    t = FakeTime(T0)
    clock = trusted_clock(path, t)
    for _ in range(100):
        t.advance(60)
        t.wall += 5  # NTP slewing or a drifting oscillator
        assert clock.trusted()


def test_untrusted_survives_restart_and_reboot(path: Path) -> None:
    t = FakeTime(T0)
    clock = trusted_clock(path, t)
    t.wall += 86400
    assert not clock.trusted()
    t.advance(5)
    restarted = t.clock(path)
    assert not restarted.trusted()
    assert restarted.state().reason == JUMP
    t.reboot(T0 + 86400 * 2)  # a later time would pass the set-back check; the old verdict stands
    rebooted = t.clock(path)
    assert not rebooted.trusted()
    assert rebooted.state().reason == JUMP


def test_jump_while_the_service_was_down_is_detected_on_restart(path: Path) -> None:
    t = FakeTime(T0)
    trusted_clock(path, t)
    t.advance(20)
    t.wall += 3600 * 5
    clock = t.clock(path)
    assert not clock.trusted()
    assert clock.state().reason == JUMP


def test_hub_time_recovers_a_wrong_clock_with_an_offset(path: Path) -> None:
    t = FakeTime(T0)
    trusted_clock(path, t)
    t.reboot(T0 - 86400 * 365)
    clock = t.clock(path)
    assert not clock.trusted()

    real = T0 + 600
    state = clock.confirm(real)
    assert state.trusted
    assert state.offset == pytest.approx(real - t.wall)
    assert clock.now() == pytest.approx(real)
    t.advance(30)
    assert clock.trusted()
    assert clock.now() == pytest.approx(real + 30)
    # A restart in the same boot keeps the correction.
    restarted = t.clock(path)
    assert restarted.trusted()
    assert restarted.now() == pytest.approx(real + 30)
    # A reboot loses it: the offset was measured against a system time that no longer exists.
    t.reboot(T0 - 86400 * 365)
    rebooted = t.clock(path)
    assert not rebooted.trusted()
    assert rebooted.state().reason in (UNCONFIRMED, SET_BACK)


def test_hub_time_observed_earlier(path: Path) -> None:
    t = FakeTime(T0)
    clock = t.clock(path)
    # The sync agent saw hub time T0 + 5000 when the local time was T0 - 40, and reported it later.
    clock.confirm(T0 + 5000, observed_at=T0 - 40)
    assert clock.trusted()
    assert clock.now() == pytest.approx(T0 + 5040)


def test_confirm_offset_from_the_sync_status_applies_each_measurement_once(path: Path) -> None:
    t = FakeTime(T0 - 86400)  # a day behind
    clock = t.clock(path)
    status = {"hub_time_offset": 86400.0, "hub_time_measured_at": T0 - 86400 - 20}
    state = clock.confirm_offset(status["hub_time_offset"], status["hub_time_measured_at"])
    assert state.trusted and clock.now() == pytest.approx(T0)
    t.advance(5)
    t.wall += 700  # a jump: untrusted, and the same (old) measurement must not re-trust it
    assert not clock.trusted()
    state = clock.confirm_offset(status["hub_time_offset"], status["hub_time_measured_at"])
    assert not state.trusted and state.reason == JUMP
    fresh = t.wall
    assert clock.confirm_offset(-700.0, fresh).trusted


def test_stale_or_future_hub_measurements_are_ignored(path: Path) -> None:
    t = FakeTime(T0)
    clock = t.clock(path)
    clock.confirm(T0 + 5000, observed_at=T0 - 3600)  # older than the jump threshold
    assert not clock.trusted()
    clock.confirm(T0 + 5000, observed_at=T0 + 60)  # "measured" in the future: the clock went back since
    assert not clock.trusted()
    assert not path.exists()


def test_hub_time_also_moves_the_last_good_time_back(path: Path) -> None:
    t = FakeTime(T0 + 86400 * 365)  # first confirmed run happened with a clock a year ahead
    clock = t.clock(path)
    clock.confirm(t.wall)
    clock.confirm(T0)  # the hub knows better
    assert clock.state().last_good == pytest.approx(T0)
    assert clock.now() == pytest.approx(T0)


def test_a_jump_drops_the_hub_offset(path: Path) -> None:
    t = FakeTime(T0 - 86400)
    clock = t.clock(path)
    clock.confirm(T0)
    t.wall = T0 + 5  # NTP sets the system time right; the offset would now double-correct
    t.mono += 5
    assert not clock.trusted()
    assert clock.state().offset == 0.0
    clock.confirm(T0 + 5)
    assert clock.trusted()
    assert clock.now() == pytest.approx(T0 + 5)


def test_implausible_hub_time_is_refused(path: Path) -> None:
    clock = FakeTime(T0).clock(path)
    with pytest.raises(ValueError, match="implausible"):
        clock.confirm(0.0)
    with pytest.raises(ValueError):
        clock.confirm(float("nan"))
    assert not clock.trusted()


def test_a_hub_time_past_any_date_is_refused_and_the_clock_kept(path: Path) -> None:
    """A broken hub's time of 1e16 s, trusted, would overflow every visit's time in SQLite's integers (no visit
    logged) and leave no date for the status bar: it is refused and the last good time is kept."""
    clock = FakeTime(T0).clock(path)
    clock.confirm(T0)
    for i, hub_time in enumerate((LATEST_PLAUSIBLE_TIME + 1, 1e16, 1e300)):
        with pytest.raises(ValueError, match="implausible"):
            clock.confirm(hub_time)
        with pytest.raises(ValueError, match="implausible"):  # the sync agent's measurement
            clock.confirm_offset(hub_time - (T0 - i), T0 - i)
    state = clock.state()
    assert state.trusted and state.now == pytest.approx(T0) and state.offset == 0.0
    assert json.loads(path.read_text())["last_good"] == pytest.approx(T0)
    assert clock.confirm(LATEST_PLAUSIBLE_TIME).trusted  # the year 9999 is a date: the hub is the authority


def test_last_good_time_is_persisted_periodically(path: Path) -> None:
    t = FakeTime(T0)
    clock = trusted_clock(path, t)
    t.advance(30)
    clock.now()
    assert json.loads(path.read_text())["last_good"] == T0  # not yet due
    t.advance(40)
    clock.now()
    assert json.loads(path.read_text())["last_good"] == T0 + 70


def test_corrupt_state_file_is_untrusted_not_a_crash(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    clock = FakeTime(T0).clock(path)
    assert not clock.trusted()
    assert clock.state().reason == NO_REFERENCE
    path.write_text(json.dumps({"last_good": "x"}))
    assert not FakeTime(T0).clock(path).trusted()


@pytest.mark.parametrize("field", ["last_good", "offset", "hub_confirmed_at"])
def test_a_saved_time_past_any_date_is_no_reference(path: Path, field: str) -> None:
    """A clock.json holding a time no date can name (damaged, or written by a version that took any hub time)
    is no reference: taken, the trusted clock's time of 1e16 s would fail the kiosk and gate at every start
    reading the visit log from "today"."""
    t = FakeTime(T0)
    trusted_clock(path, t)
    saved = json.loads(path.read_text())
    saved[field] = 1e16
    path.write_text(json.dumps(saved))
    clock = t.clock(path)
    assert not clock.trusted() and clock.state().reason == NO_REFERENCE
    assert clock.now() == pytest.approx(T0)


def test_save_is_atomic_and_leaves_no_temporary_files(path: Path) -> None:
    t = FakeTime(T0)
    clock = trusted_clock(path, t)
    for _ in range(5):
        t.advance(61)
        clock.now()
    assert sorted(os.listdir(path.parent)) == ["clock.json"]


def test_unwritable_data_dir_keeps_the_clock_working(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    t = FakeTime(T0)
    clock = t.clock(blocker / "clock.json")  # every save fails, as on a full or read-only disk
    state = clock.confirm(T0)
    assert state.trusted
    t.advance(120)
    assert clock.trusted()
    assert clock.now() == T0 + 120


def test_open_uses_clock_json_in_the_data_dir(tmp_path: Path) -> None:
    t = FakeTime(T0)
    clock = TrustedClock.open(tmp_path, SETTINGS, wall=lambda: t.wall, monotonic=lambda: t.mono,
                              boot_id=lambda: t.boot)
    clock.confirm(T0)
    assert (tmp_path / "clock.json").exists()


def test_real_clock_functions_by_default(tmp_path: Path) -> None:
    import time

    clock = TrustedClock.open(tmp_path)
    clock.confirm(time.time())
    assert clock.trusted()
    assert abs(clock.now() - time.time()) < 60


def test_simple_clocks_keep_their_behaviour() -> None:
    fixed = FixedClock(T0, trusted=False)
    fixed.advance(5)
    assert fixed.now() == T0 + 5 and not fixed.trusted()
    assert SystemClock().trusted()
