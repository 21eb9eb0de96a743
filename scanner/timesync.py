"""A trusted clock without a hub: systemd's NTP synchronisation, polled while the clock is untrusted.

`timedatectl show -p NTPSynchronized --value` prints `yes` once systemd-timesyncd (or chrony) has set
the system clock from a time server; then the system time is right and `TrustedClock.confirm_ntp()`
makes it trusted (logged). The command runner is injected so tests decide what systemd says. A device
without timedatectl (a container, a developer's laptop) just never gets trust this way.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.clock import Clock

log = logging.getLogger(__name__)

COMMAND = ("timedatectl", "show", "-p", "NTPSynchronized", "--value")
POLL_S = 30.0
TIMEOUT_S = 2.0

Runner = Callable[[tuple[str, ...]], str]


def run_command(cmd: tuple[str, ...]) -> str:
    """The command's standard output; raises OSError/SubprocessError when it cannot run."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=True).stdout


def ntp_synchronized(run: Runner = run_command) -> bool | None:
    """True/False as systemd reports it; None when it cannot be asked."""
    try:
        out = run(COMMAND).strip().lower()
    except (OSError, subprocess.SubprocessError) as e:
        log.debug("NTP state unknown: %s", e)
        return None
    if out in ("yes", "true", "1"):
        return True
    if out in ("no", "false", "0"):
        return False
    return None


class NtpWatch:
    """Asks systemd at most every `interval` seconds, and only while the clock is untrusted."""

    def __init__(self, run: Runner = run_command, *, interval: float = POLL_S,
                 monotonic: Callable[[], float] = time.monotonic):
        self._run = run
        self.interval = interval
        self._mono = monotonic
        self._last = -1e18
        self.synchronized: bool | None = None

    def poll(self, clock: Clock) -> bool:
        """Confirm `clock` (a `TrustedClock`) when NTP is synchronised; True if that made it trusted."""
        from scanner.clock import TrustedClock

        if not isinstance(clock, TrustedClock) or clock.trusted():
            return False
        now = self._mono()
        if now - self._last < self.interval:
            return False
        self._last = now
        self.synchronized = ntp_synchronized(self._run)
        if not self.synchronized:
            return False
        return bool(clock.confirm_ntp().trusted)
