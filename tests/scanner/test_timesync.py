"""A trusted clock without a hub: systemd's NTP synchronisation (injected), or an admin confirming the time."""

from __future__ import annotations

import logging
import subprocess

from scanner.clock import NO_REFERENCE, TrustedClock
from scanner.config import ClockSettings
from scanner.timesync import COMMAND, NtpWatch, ntp_synchronized

T0 = 1_790_000_000.0


class Systemd:
    """What `timedatectl show -p NTPSynchronized --value` prints, and how often it was asked."""

    def __init__(self, answer: str | Exception):
        self.answer = answer
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, cmd: tuple[str, ...]) -> str:
        self.calls.append(cmd)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def first_boot_clock(tmp_path) -> tuple[TrustedClock, list[float]]:
    t = [T0, 100.0]
    clock = TrustedClock(tmp_path / "clock.json", ClockSettings(), wall=lambda: t[0], monotonic=lambda: t[1],
                         boot_id=lambda: "b1")
    return clock, t


def test_ntp_synchronised_clock_becomes_trusted_without_a_hub(tmp_path, caplog) -> None:
    clock, t = first_boot_clock(tmp_path)
    assert not clock.trusted() and clock.state().reason == NO_REFERENCE
    systemd = Systemd("no\n")
    mono = [0.0]
    watch = NtpWatch(systemd, interval=30, monotonic=lambda: mono[0])
    assert not watch.poll(clock) and not clock.trusted() and systemd.calls == [COMMAND]
    systemd.answer = "yes\n"
    assert not watch.poll(clock)  # asked again only after the interval
    mono[0] = 31
    with caplog.at_level(logging.WARNING, logger="scanner.clock"):
        assert watch.poll(clock)
    assert clock.trusted() and clock.state().offset == 0
    assert any("clock trusted source=ntp" in r.getMessage() for r in caplog.records)
    mono[0] = 100
    assert not watch.poll(clock) and len(systemd.calls) == 2  # trusted: systemd is not asked any more
    # The trust survives a restart of the service (clock.json).
    assert TrustedClock(tmp_path / "clock.json", ClockSettings(), wall=lambda: t[0] + 5,
                        monotonic=lambda: t[1] + 5, boot_id=lambda: "b1").trusted()


def test_no_timedatectl_means_no_trust_from_ntp(tmp_path) -> None:
    clock, _ = first_boot_clock(tmp_path)
    assert ntp_synchronized(Systemd(FileNotFoundError("timedatectl"))) is None
    assert ntp_synchronized(Systemd(subprocess.TimeoutExpired(COMMAND, 2))) is None
    assert ntp_synchronized(Systemd("maybe")) is None
    assert not NtpWatch(Systemd(FileNotFoundError("timedatectl"))).poll(clock) and not clock.trusted()


def test_an_admin_confirming_the_time_trusts_the_clock_and_is_logged(tmp_path, caplog) -> None:
    clock, _ = first_boot_clock(tmp_path)
    with caplog.at_level(logging.WARNING, logger="scanner.clock"):
        state = clock.confirm_admin(T0 + 3600)  # the admin entered the right time: an hour later
    assert state.trusted and abs(clock.now() - (T0 + 3600)) < 1
    assert any("confirmed by an admin" in r.getMessage() for r in caplog.records)
