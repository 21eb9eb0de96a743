"""Clocks the core is given: it never reads the time itself, so every decision is reproducible.

A `Clock` says what time it is and whether that time can be trusted. A device without a real-time
clock that booted offline can be years off; decisions made on an untrusted clock become "check manually".
`TrustedClock` is the appliance's clock: it keeps a last known good time in `<data_dir>/clock.json`,
distrusts a system time that went back or jumped, and trusts again once the hub confirms the time.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypedDict

from keys.durable import atomic_write
from keys.frozen import frozen

if TYPE_CHECKING:
    from scanner.config import ClockSettings

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> float:
        """Unix seconds."""
        ...

    def trusted(self) -> bool:
        """False while the device time is known or suspected to be wrong."""
        ...


class SystemClock:
    """The system time, always taken as trusted (for tools and tests; the kiosk uses trusted time)."""

    def now(self) -> float:
        return time.time()

    def trusted(self) -> bool:
        return True


class FixedClock:
    """A clock that says what it is told: for `checkpoint check --at`, tests and benchmarks."""

    def __init__(self, at: float, *, trusted: bool = True):
        self.at = float(at)
        self._trusted = trusted

    def now(self) -> float:
        return self.at

    def trusted(self) -> bool:
        return self._trusted

    def advance(self, seconds: float) -> None:
        self.at += seconds


# Why a `TrustedClock` is untrusted; stable codes for the status bar, the log and the visit record.
NO_REFERENCE = "no_reference"  # first boot (or a lost clock.json): nothing to compare the time with
SET_BACK = "set_back"  # system time earlier than the last known good time, beyond the tolerance
JUMP = "jump"  # the wall clock moved against the monotonic clock by more than the threshold
UNCONFIRMED = "unconfirmed"  # the last boot ran on a hub correction that the reboot lost

REASONS = {
    NO_REFERENCE: "no known good time yet; waiting for the hub",
    SET_BACK: "system time is earlier than the last known good time",
    JUMP: "system time jumped",
    UNCONFIRMED: "system time was wrong before the restart; waiting for the hub",
}

# Hub times before this are refused as nonsense (2020-01-01 UTC).
MIN_PLAUSIBLE_TIME = 1_577_836_800.0
# Nor after the last second a date can name (9999-12-31 23:59:59 UTC): past it a visit's time in
# milliseconds overflows SQLite's integers and no date can be shown. Times typed on the command line
# are held to it too (`scanner.cli.times`).
LATEST_PLAUSIBLE_TIME = 253_402_300_799.0
_FORMAT_VERSION = 1


def read_boot_id() -> str:
    """The kernel's id of this boot: the monotonic clock only means something within one boot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


@frozen
class ClockState:
    """Whether the device's time can be trusted now, and why not."""

    trusted: bool
    reason: str | None
    now: float
    last_good: float | None
    # Seconds added to the system time, from the last hub confirmation (0 when the system time agreed).
    offset: float
    hub_confirmed_at: float | None


class SavedClock(TypedDict):
    """`clock.json` once read and checked."""

    last_good: float
    wall: float
    mono: float
    boot_id: str
    offset: float
    trusted: bool
    reason: str | None
    hub_confirmed_at: float | None


class TrustedClock:
    """The device's time, and whether it can be trusted, kept in `<data_dir>/clock.json`.

    `now()` is the system time plus the hub's correction; `trusted()` turns False when the system
    time falls behind the last known good time by more than `tolerance`, when it jumps against the
    monotonic clock by more than `jump_threshold`, when a reboot finds it more than `reboot_ahead_days`
    past the last known good time, or on a first boot with nothing to compare with.
    Only `confirm(hub_time)` makes it trusted again. While trusted, the last known good time is
    persisted every `persist_interval` seconds (and on every change), atomically, so a restart or a
    power cut cannot lose the reference. Thread-safe; wall clock, monotonic clock and boot id are
    injected so that tests control time.
    """

    def __init__(self, path: str | Path, settings: ClockSettings | None = None, *,
                 wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic,
                 boot_id: Callable[[], str] = read_boot_id):
        self.path = Path(path)
        if settings is None:
            from scanner.config import ClockSettings

            settings = ClockSettings()
        self.settings = settings
        self._wall = wall
        self._mono = monotonic
        self._boot_id = boot_id()
        self._lock = threading.RLock()
        self._trusted = False
        self._reason: str | None = NO_REFERENCE
        self._offset = 0.0
        self._last_good: float | None = None
        self._confirmed_at: float | None = None
        self._saved_mono: float | None = None
        self._settled = False
        self._applied_measurement: float | None = None
        with self._lock:
            self._start()
            self._settled = True

    @classmethod
    def open(cls, data_dir: str | Path, settings: ClockSettings | None = None, *,
             wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic,
             boot_id: Callable[[], str] = read_boot_id) -> TrustedClock:
        from scanner.storage.datadir import CLOCK_FILE  # a check without a data directory never loads it

        return cls(Path(data_dir) / CLOCK_FILE, settings, wall=wall, monotonic=monotonic, boot_id=boot_id)

    # -- the Clock protocol ------------------------------------------------------------------------

    def now(self) -> float:
        with self._lock:
            return self._observe()

    def trusted(self) -> bool:
        with self._lock:
            self._observe()
            return self._trusted

    # -- for the kiosk's status bar and the sync agent ---------------------------------------------

    def state(self) -> ClockState:
        """Check the clock now and say how it stands."""
        with self._lock:
            now = self._observe()
            return ClockState(self._trusted, self._reason, now, self._last_good, self._offset,
                              self._confirmed_at)

    def confirm(self, hub_time: float, *, observed_at: float | None = None, source: str = "hub") -> ClockState:
        """The hub said it was `hub_time` when the system time was `observed_at` (default: now).

        The hub is the authority: its time becomes the last known good time and the clock is trusted.
        A system time within `tolerance` of it is used as is; otherwise the difference is kept as an
        offset (the kiosk cannot set the system clock), valid until the wall clock jumps or the device
        reboots. With `observed_at`, a measurement older than `jump_threshold` (or from the future) is
        ignored. The sync agent's `sync-status.json` gives `hub_time_offset` at `hub_time_measured_at`:
        `confirm(measured_at + offset, observed_at=measured_at)`.
        """
        if not MIN_PLAUSIBLE_TIME <= hub_time <= LATEST_PLAUSIBLE_TIME:  # NaN fails this too
            raise ValueError(f"implausible hub time {hub_time!r}")
        with self._lock:
            self._observe()
            wall = self._wall()
            if observed_at is not None and not 0 <= wall - observed_at <= self.settings.jump_threshold:
                # Measured in another era of the system clock (before a jump, or long ago): the offset
                # it implies would be wrong now. The sync agent measures again within a minute.
                log.info("stale hub time ignored observed_at=%.0f now=%.0f", observed_at, wall)
                return ClockState(self._trusted, self._reason, wall + self._offset, self._last_good,
                                  self._offset, self._confirmed_at)
            offset = hub_time - (wall if observed_at is None else observed_at)
            previous = self._offset
            self._offset = 0.0 if abs(offset) <= self.settings.tolerance else offset
            now = wall + self._offset
            if not self._trusted:
                log.warning("clock trusted source=%s was=%s offset=%.1f", source, self._reason, self._offset)
            elif abs(self._offset - previous) > self.settings.tolerance:
                log.warning("clock corrected by hub offset=%.1f", self._offset)
            self._trusted = True
            self._reason = None
            self._last_good = now
            self._confirmed_at = now
            self._save()
            return ClockState(True, None, now, now, self._offset, now)

    def confirm_offset(self, offset: float, measured_at: float) -> ClockState:
        """`confirm()` from the sync agent's record: hub time minus device time was `offset` seconds
        when the device time was `measured_at` (`hub_time_offset`, `hub_time_measured_at` in
        `sync-status.json`). Polling the file is fine: a measurement is applied once.
        """
        with self._lock:
            if measured_at == self._applied_measurement:
                return self.state()
            self._applied_measurement = measured_at
            return self.confirm(measured_at + offset, observed_at=measured_at)

    def confirm_ntp(self) -> ClockState:
        """systemd reports NTP synchronisation: the system time itself is right (`scanner.timesync`)."""
        return self.confirm(self._wall(), source="ntp")

    def confirm_admin(self, at: float | None = None) -> ClockState:
        """An admin confirmed in the PIN panel that the time shown is right, or entered the right time `at`
        (Unix seconds). Logged with the time confirmed, as the clock's authority for this boot."""
        wall = self._wall()
        state = self.confirm(wall if at is None else at, observed_at=wall, source="admin")
        log.warning("clock confirmed by an admin at=%.0f offset=%.1f", state.now, state.offset)
        return state

    # -- internals ---------------------------------------------------------------------------------

    def _start(self) -> None:
        wall, mono = self._wall(), self._mono()
        self._ref_wall, self._ref_mono = wall, mono
        data = self._load()
        if data is None:
            self._distrust(NO_REFERENCE, "no last known good time")
            return
        self._last_good = data["last_good"]
        self._confirmed_at = data["hub_confirmed_at"]
        if self._boot_id and data["boot_id"] == self._boot_id:
            # Same boot (the service restarted): the monotonic clock still relates to the saved time.
            drift = wall - (data["wall"] + (mono - data["mono"]))
            if abs(drift) > self.settings.jump_threshold:
                self._distrust(JUMP, f"system time moved {drift:+.0f}s while the service was down")
            elif data["trusted"]:
                self._trusted, self._reason, self._offset = True, None, data["offset"]
            else:
                self._distrust(data["reason"] or NO_REFERENCE, "still untrusted from before the restart")
        elif not data["trusted"]:
            self._distrust(data["reason"] or NO_REFERENCE, "still untrusted from before the reboot")
        elif wall - data["last_good"] > self.settings.reboot_ahead_days * 86400:
            self._distrust(JUMP, f"system time is {(wall - data['last_good']) / 86400:.0f} days past the last "
                                 "known good time after a reboot")
        elif abs(data["offset"]) > self.settings.tolerance:
            self._distrust(UNCONFIRMED, f"the last boot needed a hub offset of {data['offset']:+.0f}s")
        else:
            self._trusted, self._reason = True, None
        self._observe()
        self._save()

    def _observe(self) -> float:
        """Check for a jump or a set-back, keep the last known good time; return the current time."""
        wall, mono = self._wall(), self._mono()
        drift = wall - (self._ref_wall + (mono - self._ref_mono))
        self._ref_wall, self._ref_mono = wall, mono
        if abs(drift) > self.settings.jump_threshold:
            # A hub correction measured against the old system time no longer holds.
            self._offset = 0.0
            self._distrust(JUMP, f"system time moved {drift:+.0f}s against the monotonic clock")
        now = wall + self._offset
        if self._trusted and self._last_good is not None and now < self._last_good - self.settings.tolerance:
            self._distrust(SET_BACK, f"system time is {self._last_good - now:.0f}s before the last good time")
        if self._trusted:
            if self._last_good is None or now > self._last_good:
                self._last_good = now
            if self._saved_mono is None or mono - self._saved_mono >= self.settings.persist_interval:
                self._save()
        return now

    def _distrust(self, reason: str, detail: str) -> None:
        if not self._trusted and self._settled:
            return  # keep the first reason until the hub confirms
        self._trusted = False
        self._reason = reason
        log.warning("clock untrusted reason=%s detail=%r", reason, detail)
        self._save()

    def _load(self) -> SavedClock | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            log.warning("clock state unreadable path=%s error=%s", self.path, e.strerror)
            return None
        try:
            data = json.loads(raw)
            out = SavedClock(
                last_good=float(data["last_good"]),
                wall=float(data["wall"]),
                mono=float(data["mono"]),
                boot_id=str(data["boot_id"]),
                offset=float(data["offset"]),
                trusted=data["trusted"] is True,
                reason=data["reason"] if data["reason"] in REASONS else None,
                hub_confirmed_at=(None if data.get("hub_confirmed_at") is None
                                  else float(data["hub_confirmed_at"])),
            )
            if not all(math.isfinite(v) for v in (out["last_good"], out["wall"], out["mono"], out["offset"])):
                raise ValueError("not a finite number")
            # Times no date can name, as a hub's time may not be (`confirm`): one would be the clock's time.
            times = [out["last_good"], out["wall"] + out["offset"]]
            if out["hub_confirmed_at"] is not None:
                times.append(out["hub_confirmed_at"])
            if not all(0 <= t <= LATEST_PLAUSIBLE_TIME for t in times):
                raise ValueError("a time past 9999-12-31")
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            log.warning("clock state invalid, ignored path=%s error=%s", self.path, e)
            return None
        return out

    def _save(self) -> bool:
        wall, mono = self._wall(), self._mono()
        doc = {
            "version": _FORMAT_VERSION,
            "last_good": self._last_good,
            "wall": wall,
            "mono": mono,
            "boot_id": self._boot_id,
            "offset": self._offset,
            "trusted": self._trusted,
            "reason": self._reason,
            "hub_confirmed_at": self._confirmed_at,
        }
        if self._last_good is None:
            # Nothing worth keeping yet; an absent file already means "no reference".
            self._saved_mono = mono
            return True
        try:
            atomic_write(self.path, json.dumps(doc, indent=1).encode() + b"\n")
        except OSError as e:
            # The clock keeps working from memory; the next periodic save retries.
            log.warning("clock state not saved path=%s error=%s", self.path, e.strerror or e)
            return False
        self._saved_mono = mono
        return True
