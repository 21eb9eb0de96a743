"""The admin PIN: scrypt hash check with attempts rate-limited, no Qt.

`PinGate.attempt(pin)` says whether the panel opens. After `max_attempts` wrong PINs in a row the gate
locks for `lockout_seconds` (doubling with each further lock-out), so a bystander cannot try PINs on
the touch screen. The hash is the config's `admin.pin_hash`;
the scheme is "scrypt$N$r$p$salt_b64$hash_b64" (`hash_pin` makes one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_pin(pin: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def _verify_local(stored: str, pin: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expect = base64.b64decode(digest)
        got = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expect))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expect)


def default_verifier() -> Callable[[str, str], bool]:
    """(stored_hash, pin) -> bool."""
    return _verify_local


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
        self._verify = verify or default_verifier()
        self._failures = 0
        self._lockouts = 0
        self._locked_until = 0.0

    def locked_for(self) -> float:
        return max(0.0, self._locked_until - self._clock())

    def attempt(self, pin: str) -> PinResult:
        wait = self.locked_for()
        if wait > 0:
            return PinResult(False, wait, 0, f"已锁定，请 {wait:.0f} 秒后再试",
                             f"Locked — try again in {wait:.0f} s")
        if not self.pin_hash:
            return PinResult(False, 0, 0, "未设置管理密码（admin.pin_hash）",
                             "No admin PIN set (admin.pin_hash in the config)")
        if self._verify(self.pin_hash, pin):
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
