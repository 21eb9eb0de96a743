"""When the kiosk may ping the systemd watchdog: only while frames flow and the pipeline is alive.

A process that is merely running is not healthy: a frozen camera or a hung decoder thread leaves the
Qt event loop spinning happily while the gate is blind. So `Watchdog.tick()` pings only if a frame
arrived within `frame_timeout` and every liveness check passes; otherwise it withholds the ping and
systemd restarts the service after `WatchdogSec=`. Call `tick()` from the UI thread's timer (a hung UI
thread then stops the pings too), feed it frames with `frame()` or give it a `last_frame` callable
(for example `lambda: pipeline.last_frame_monotonic`), and add `pipeline.alive` as a check.

No Qt and no sockets here: the ping function and the monotonic clock are injected, so tests drive it.
`Heartbeat` bundles what the kiosk's UI timer does once a second: the watchdog, and the `systemctl status`
line with the trusted clock's state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from scanner.clock import Clock, TrustedClock
from scanner.service import sdnotify

log = logging.getLogger(__name__)


class Watchdog:
    """Decides, on each `tick()`, whether the process is healthy and a ping is due."""

    def __init__(self, ping: Callable[[], bool] = sdnotify.watchdog, *, timeout: float,
                 frame_timeout: float = 5.0, startup_grace: float | None = None,
                 last_frame: Callable[[], float | None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic):
        """`timeout` is systemd's watchdog interval in seconds (`sdnotify.watchdog_interval()`).

        Pings go out at most every `timeout / 4`, so a `tick()` once a second keeps a wide margin.
        Before the first frame, `startup_grace` (default: `timeout`) allows the camera to start.
        """
        if timeout <= 0 or frame_timeout <= 0:
            raise ValueError("timeout and frame_timeout must be positive")
        self._ping = ping
        self.timeout = float(timeout)
        self.frame_timeout = float(frame_timeout)
        self.startup_grace = self.timeout if startup_grace is None else float(startup_grace)
        self._last_frame_fn = last_frame
        self._monotonic = monotonic
        self._checks: dict[str, Callable[[], bool]] = {}
        self._started = monotonic()
        self._frame: float | None = None
        self._last_ping: float | None = None
        self.problem: str | None = None
        self.pings = 0

    @classmethod
    def from_env(cls, *, frame_timeout: float = 5.0, startup_grace: float | None = None,
                 last_frame: Callable[[], float | None] | None = None) -> Watchdog | None:
        """A watchdog for the interval systemd set (`$WATCHDOG_USEC`), or None when there is none."""
        interval = sdnotify.watchdog_interval()
        if interval is None:
            return None
        return cls(timeout=interval, frame_timeout=frame_timeout, startup_grace=startup_grace,
                   last_frame=last_frame)

    def add_check(self, name: str, alive: Callable[[], bool]) -> None:
        """A liveness check, e.g. `pipeline.alive`; a check that raises counts as dead."""
        self._checks[name] = alive

    def frame(self, at: float | None = None) -> None:
        """Record that a frame arrived, at monotonic time `at` (default: now)."""
        t = self._monotonic() if at is None else at
        if self._frame is None or t > self._frame:
            self._frame = t

    def _newest_frame(self) -> float | None:
        newest = self._frame
        if self._last_frame_fn is not None:
            other = self._last_frame_fn()
            if other is not None and (newest is None or other > newest):
                newest = other
        return newest

    def check(self) -> str | None:
        """What is wrong right now, in words for the log, or None when healthy."""
        now = self._monotonic()
        for name, alive in self._checks.items():
            try:
                ok = bool(alive())
            except Exception as e:
                return f"{name} check failed: {type(e).__name__}: {e}"
            if not ok:
                return f"{name} not alive"
        newest = self._newest_frame()
        if newest is None:
            waited = now - self._started
            if waited > self.startup_grace:
                return f"no frame since start {waited:.1f}s ago"
            return None
        age = now - newest
        if age > self.frame_timeout:
            return f"no frame for {age:.1f}s"
        return None

    def tick(self) -> bool:
        """Ping if healthy and due; True when a ping was sent. Logs each change of health once."""
        problem = self.check()
        if problem != self.problem:
            if problem is None:
                log.info("watchdog healthy again, pinging")
            else:
                log.warning("watchdog withheld: %s", problem)
            self.problem = problem
        if problem is not None:
            return False
        now = self._monotonic()
        if self._last_ping is not None and now - self._last_ping < self.timeout / 4:
            return False
        self._last_ping = now
        sent = bool(self._ping())
        if sent:
            self.pings += 1
        return sent


class Heartbeat:
    """What the kiosk's once-a-second UI timer does for the appliance, in one call: `tick()`.

    Reports the trusted clock's state (the `Session` confirms it from the sync agent's hub time), pings
    the watchdog when frames flow and the pipeline lives, and keeps `systemctl status` current.
    Call `ready()` once the first screen is shown and `stopping()` on a clean exit.
    """

    def __init__(self, *, watchdog: Watchdog | None, clock: Clock | None = None,
                 notify: Callable[[str], bool] = sdnotify.notify):
        self.watchdog = watchdog
        self.clock = clock
        self._notifier = sdnotify.Notifier(notify)
        self._status: str | None = None

    @classmethod
    def for_kiosk(cls, *, last_frame: Callable[[], float | None], alive: Callable[[], bool], clock: Clock | None,
                  frame_timeout: float = 5.0, log_replaced: Callable[[], bool] | None = None) -> Heartbeat:
        """Watchdog from `$WATCHDOG_USEC` (none outside systemd), e.g.
        `Heartbeat.for_kiosk(last_frame=lambda: pipeline.last_frame_monotonic, alive=pipeline.alive, ...)`.

        `log_replaced` (`VisitLog.replaced`): the visit log was set aside as damaged by another process and a
        new one started; visits written to the old file would never be uploaded, so the service is restarted.
        """
        dog = Watchdog.from_env(frame_timeout=frame_timeout, last_frame=last_frame)
        if dog is not None:
            dog.add_check("pipeline", alive)
            if log_replaced is not None:
                dog.add_check("visit log file", lambda: not log_replaced())
        return cls(watchdog=dog, clock=clock)

    def ready(self) -> bool:
        return self._notifier.ready()

    def stopping(self) -> bool:
        return self._notifier.stopping()

    def tick(self) -> str:
        """One beat; returns the status line."""
        parts = []
        if self.clock is not None:
            if isinstance(self.clock, TrustedClock):
                state = self.clock.state()
                parts.append("clock trusted" if state.trusted else f"clock untrusted ({state.reason})")
            else:
                parts.append("clock trusted" if self.clock.trusted() else "clock untrusted")
        if self.watchdog is not None:
            self.watchdog.tick()
            problem = self.watchdog.problem
            parts.insert(0, f"watchdog withheld: {problem}" if problem else "scanning")
        text = "; ".join(parts) or "running"
        if text != self._status:
            self._notifier.status(text)
            self._status = text
        return text
