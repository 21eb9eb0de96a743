"""The admin PIN gate: `scanner.pin` checks the scrypt hash; attempts are rate-limited here. No Qt.

`PinGate.attempt(pin)` says whether the panel opens; `record(ok)` counts a PIN the core checked (an
alert's acknowledgement). After `max_attempts` wrong PINs in a row the gate
locks for `lockout_seconds`, doubling with each further lock-out, so a bystander cannot try PINs on
the touch screen. The hash is the config's `admin.pin_hash` (`checkpoint config pin` makes one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


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
                 verify: Callable[[str, str], bool] | None = None):
        self.pin_hash = pin_hash
        self.max_attempts = max_attempts
        self.lockout_seconds = lockout_seconds
        self._clock = clock
        self._verify = verify or _verify
        self._failures = 0
        self._lockouts = 0
        self._locked_until = 0.0

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
            self._failures = self._lockouts = 0
            return PinResult(True, 0, self.max_attempts, "", "")
        self._failures += 1
        if self._failures >= self.max_attempts:
            self._failures = 0
            wait = self.lockout_seconds * 2 ** self._lockouts
            self._lockouts += 1
            self._locked_until = self._clock() + wait
            return PinResult(False, wait, 0, f"错误次数过多，锁定 {wait:.0f} 秒",
                             f"Too many wrong PINs — locked for {wait:.0f} s")
        left = self.max_attempts - self._failures
        return PinResult(False, 0, left, f"密码错误，还可尝试 {left} 次", f"Wrong PIN — {left} tries left")
