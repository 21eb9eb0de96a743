"""The admin PIN gate: `scanner.pin` checks the scrypt hash; attempts are rate-limited here. No Qt.

`PinGate.attempt(pin)` says whether the panel opens; `record(ok)` counts a PIN the core checked (an
alert's acknowledgement). After `max_attempts` wrong PINs in a row the gate
locks for `lockout_seconds`, doubling with each further lock-out, so a bystander cannot try PINs on
the touch screen. The hash is the config's `admin.pin_hash` (`checkpoint config pin` makes one).

With a data directory the count of wrong PINs, the number of lock-outs and the lock-out's end are kept in
`pin-lockout.json`, so restarting or power-cycling the kiosk gives no fresh set of guesses. Within one boot
the end is measured on the monotonic clock (setting the wall clock either way changes nothing); after a
reboot on the wall clock, never longer than the lock-out's own length (a clock set back cannot stretch it).
No lock-out is longer than a day. A missing or damaged file means no lock-out (logged): one bad file must
not shut the guard out of the panel for good.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from keys.durable import atomic_write_json
from scanner.clock import read_boot_id
from scanner.storage.datadir import DataDir

log = logging.getLogger(__name__)

MAX_LOCK_SECONDS = 86400.0  # a guard is never shut out of the panel for more than a day
_MAX_LOCKOUTS = 64  # doublings kept; 2**64 times any lock-out is far past the day


def _verify(pin_hash: str, pin: str) -> bool:
    from scanner.pin import verify_pin

    return verify_pin(pin, pin_hash)


@dataclass(frozen=True)
class PinResult:
    ok: bool
    locked_for: float  # seconds until another attempt is allowed (0: may try now)
    attempts_left: int
    message_zh: str
    message_en: str


class PinGate:
    def __init__(self, pin_hash: str, *, max_attempts: int = 5, lockout_seconds: float = 60,
                 clock: Callable[[], float] = time.monotonic,
                 verify: Callable[[str, str], bool] | None = None, data_dir: Path | None = None,
                 wall: Callable[[], float] = time.time, boot_id: Callable[[], str] = read_boot_id):
        """`clock` is the monotonic clock (system-wide, so it carries across a restart within a boot);
        `wall`, `boot_id` and `data_dir` are for the kept state (without `data_dir` nothing is kept)."""
        self.pin_hash = pin_hash
        self.max_attempts = max_attempts
        self.lockout_seconds = lockout_seconds
        self._clock = clock
        self._wall = wall
        self._verify = verify or _verify
        self._failures = 0
        self._lockouts = 0
        self._locked_until = 0.0
        self._path = DataDir(Path(data_dir)).pin_lockout if data_dir is not None else None
        self._boot = boot_id() if self._path is not None else ""
        if self._path is not None:
            self._load(self._path)

    def _lock_length(self, lockouts: int) -> float:
        """The length of the lock-out that follows `lockouts` earlier ones."""
        return min(float(self.lockout_seconds) * 2 ** min(lockouts, _MAX_LOCKOUTS), MAX_LOCK_SECONDS)

    def _load(self, path: Path) -> None:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            log.warning("ignoring %s, no PIN lock-out assumed: %s", path, e)
            return
        fields = ("failures", "lockouts", "locked_until", "mono_until")
        if not isinstance(doc, dict) or not all(
                isinstance(doc.get(k), int | float) and not isinstance(doc.get(k), bool) for k in fields) \
                or not isinstance(doc.get("boot_id"), str) \
                or not all(abs(doc[k]) < 1e12 for k in fields):
            log.warning("ignoring %s, no PIN lock-out assumed: not a PIN lock-out record", path)
            return
        self._failures = min(max(int(doc["failures"]), 0), self.max_attempts - 1)
        self._lockouts = min(max(int(doc["lockouts"]), 0), _MAX_LOCKOUTS)
        if self._lockouts == 0:
            return
        if self._boot and doc["boot_id"] == self._boot:
            left = doc["mono_until"] - self._clock()
        else:
            left = doc["locked_until"] - self._wall()
        # Never more than the lock-out that was set: a wall clock set back after a reboot cannot stretch it.
        left = min(max(left, 0.0), self._lock_length(self._lockouts - 1))
        if left > 0:
            self._locked_until = self._clock() + left

    def _save(self) -> None:
        if self._path is None:
            return
        left = self.locked_for()
        try:
            atomic_write_json(self._path, {
                "failures": self._failures, "lockouts": self._lockouts, "boot_id": self._boot,
                "mono_until": self._locked_until, "locked_until": self._wall() + left})
        except OSError as e:
            # The lock-out still holds in this process; only its survival across a restart is lost.
            log.error("cannot save %s: %s", self._path, e.strerror)

    def locked_for(self) -> float:
        return max(0.0, self._locked_until - self._clock())

    def attempt(self, pin: str) -> PinResult:
        from scanner.errors import InputError

        wait = self.locked_for()
        if wait > 0:
            return PinResult(False, wait, 0, f"已锁定，请 {wait:.0f} 秒后再试",
                             f"Locked — try again in {wait:.0f} s")
        if not self.pin_hash:
            return PinResult(False, 0, 0, "未设置管理密码（admin.pin_hash）",
                             "No admin PIN set (admin.pin_hash in the config)")
        try:
            ok = self._verify(self.pin_hash, pin)
        except InputError as e:
            return PinResult(False, 0, 0, "管理密码配置有误", f"The admin PIN setting is invalid: {e}")
        return self.record(ok)

    def record(self, ok: bool) -> PinResult:
        """Count a PIN checked elsewhere (the core checks the one that acknowledges an alert): the same
        PIN, so the same count of wrong tries and the same lockout. Ask `locked_for()` before checking."""
        if ok:
            if self._failures or self._lockouts:
                self._failures = self._lockouts = 0
                self._save()
            return PinResult(True, 0, self.max_attempts, "", "")
        self._failures += 1
        if self._failures >= self.max_attempts:
            self._failures = 0
            wait = self._lock_length(self._lockouts)
            self._lockouts = min(self._lockouts + 1, _MAX_LOCKOUTS)
            self._locked_until = self._clock() + wait
            self._save()
            return PinResult(False, wait, 0, f"错误次数过多，锁定 {wait:.0f} 秒",
                             f"Too many wrong PINs — locked for {wait:.0f} s")
        self._save()
        left = self.max_attempts - self._failures
        return PinResult(False, 0, left, f"密码错误，还可尝试 {left} 次", f"Wrong PIN — {left} tries left")
