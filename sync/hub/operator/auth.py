"""Operator login for the fleet pages: scrypt password hashes, signed session cookies, CSRF tokens.

The operator file (TOML) holds `session_secret`, optional `session_hours` and `metrics_token`, and one
`[operators.NAME]` table per operator with `password = "scrypt$…"` (`checkpoint hub operator-password`
prints one). Nothing is kept in process memory: a session is a cookie signed with the secret (keyed also
by the operator's password hash, so changing a password ends that operator's sessions), and a form's CSRF
token is derived from the session, so any hub process behind a load balancer accepts both. The one thing
held in memory is `LoginThrottle`, each process's count of recent failed logins per client address.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import json
import math
import secrets
import time
import tomllib
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sync.errors import SyncConfigError

# scrypt cost: ~50 ms and 16 MiB per attempt on a Pi-class core; the parameters travel in each hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
MAX_PASSWORD = 1024
# Password checks run one at a time per process, all on one thread: a flood of logins waits its turn
# instead of taking the memory and cores of the process that serves devices (16 MiB and a core each). One
# thread also keeps scrypt's 16 MiB in one malloc arena: on many threads, each thread's arena keeps a copy.
_CHECKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="password-check")


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(dk)}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, want = stored.split("$")
        if kind != "scrypt" or len(password) > MAX_PASSWORD:
            return False
        dk = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                            dklen=len(_unb64(want)), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(dk, _unb64(want))


def same_text(a: str, b: str) -> bool:
    """Constant-time equality of two texts, any characters (`hmac.compare_digest` raises on a str that is
    not ASCII, and a cookie, form field or header from the network may hold anything)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


@functools.cache
def _unknown_name_hash() -> str:
    """What an unknown name's password is checked against (a fixed salt: made once, when first needed)."""
    return hash_password("", salt=b"\0" * 16)


@dataclass(frozen=True)
class OperatorConfig:
    secret: bytes
    operators: dict[str, str]
    session_seconds: int = 8 * 3600
    metrics_token: str | None = None


def load_operator_config(path: str | Path) -> OperatorConfig:
    """Read and check the operator file; every problem names the file and the key."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise SyncConfigError(f"{p}: cannot read: {e.strerror}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise SyncConfigError(f"{p}: not valid TOML: {e}") from None
    unknown = set(doc) - {"session_secret", "session_hours", "metrics_token", "operators"}
    if unknown:
        raise SyncConfigError(f"{p}: unknown key(s) {', '.join(sorted(unknown))}")
    secret = doc.get("session_secret")
    if not isinstance(secret, str) or len(secret) < 32:
        raise SyncConfigError(f"{p}: session_secret must be a string of at least 32 characters "
                              "(`checkpoint hub operator-password --new-secret` prints one)")
    hours = doc.get("session_hours", 8)
    if type(hours) is not int or not 1 <= hours <= 24 * 7:
        raise SyncConfigError(f"{p}: session_hours must be an integer from 1 to 168")
    token = doc.get("metrics_token")
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        raise SyncConfigError(f"{p}: metrics_token must be a string of at least 16 characters")
    ops = doc.get("operators")
    if not isinstance(ops, dict) or not ops:
        raise SyncConfigError(f"{p}: no [operators.NAME] tables: nobody could log in")
    operators: dict[str, str] = {}
    for name, entry in ops.items():
        if not isinstance(entry, dict) or set(entry) != {"password"} or not isinstance(entry["password"], str) \
                or not entry["password"].startswith("scrypt$") or entry["password"].count("$") != 5:
            raise SyncConfigError(f"{p}: operators.{name}: expected only password = \"scrypt$…\" "
                                  "(from `checkpoint hub operator-password`)")
        operators[name] = entry["password"]
    return OperatorConfig(secret.encode(), operators, hours * 3600, token)


class Sessions:
    """Session cookies and CSRF tokens signed with the operator file's secret."""

    COOKIE = "cp_session"
    LOGIN_COOKIE = "cp_login"

    def __init__(self, config: OperatorConfig):
        self.config = config

    def _mac(self, *parts: str) -> str:
        return _b64(hmac.new(self.config.secret, "\0".join(parts).encode(), hashlib.sha256).digest())

    def login(self, name: str, password: str) -> str | None:
        """A session cookie value for a correct name and password, else None."""
        stored = self.config.operators.get(name)
        if stored is None:
            # The same work for an unknown name, so timing does not tell which names exist.
            _CHECKER.submit(lambda: check_password(password, _unknown_name_hash())).result()
            return None
        if not _CHECKER.submit(check_password, password, stored).result():
            return None
        body = _b64(json.dumps({"u": name, "exp": int(time.time()) + self.config.session_seconds,
                                "n": secrets.token_hex(8)}).encode())
        return f"{body}.{self._mac('session', body, stored)}"

    def operator(self, cookie: str | None) -> str | None:
        """The operator a session cookie belongs to, if it is genuine and not expired."""
        if not cookie or cookie.count(".") != 1 or len(cookie) > 512:
            return None
        body, mac = cookie.split(".")
        try:
            doc = json.loads(_unb64(body))
            name, exp = doc["u"], doc["exp"]
        except (ValueError, KeyError, TypeError):
            return None
        stored = self.config.operators.get(name) if isinstance(name, str) else None
        if stored is None or not isinstance(exp, int) or exp < time.time():
            return None
        return name if same_text(mac, self._mac("session", body, stored)) else None

    def csrf(self, cookie: str) -> str:
        """The CSRF token for forms shown under this session (or this login cookie)."""
        return self._mac("csrf", cookie)

    def csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and same_text(self.csrf(cookie or ""), token or "")


class LoginThrottle:
    """Failed logins per client address, with a growing wait once an address has used its free attempts.

    After `free` failures in a row an address waits `first_wait` seconds, doubling with each further failure
    up to `max_wait`; a success or `forget_after` seconds without a failure clears it. Other addresses are
    never held up. An IPv6 address counts by its /64 (one host owns the whole prefix). Memory is bounded:
    at most `max_addresses` are kept, the one that failed least recently making room for a new one.
    """

    def __init__(self, *, free: int = 5, first_wait: float = 30.0, max_wait: float = 900.0,
                 forget_after: float = 3600.0, max_addresses: int = 4096,
                 clock: Callable[[], float] = time.monotonic):
        self.free, self.first_wait, self.max_wait = free, first_wait, max_wait
        self.forget_after, self.max_addresses, self.clock = forget_after, max_addresses, clock
        # address -> (failures in a row, time of the last one, blocked until)
        self._failed: OrderedDict[str, tuple[int, float, float]] = OrderedDict()

    @staticmethod
    def key(address: str | None) -> str:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return address or "unknown"
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.IPv6Network((ip, 64), strict=False))
        return str(ip)

    def wait(self, address: str | None) -> int:
        """Whole seconds this address must still wait before its next attempt (0: it may try now)."""
        k, now = self.key(address), self.clock()
        held = self._failed.get(k)
        if held is None:
            return 0
        if now - held[1] > self.forget_after:
            del self._failed[k]
            return 0
        return max(0, math.ceil(held[2] - now))

    def failed(self, address: str | None) -> None:
        k, now = self.key(address), self.clock()
        count, last, _ = self._failed.pop(k, (0, now, now))
        if now - last > self.forget_after:
            count = 0
        count += 1
        until = now + min(self.max_wait, self.first_wait * 2 ** (count - self.free)) if count >= self.free else now
        self._failed[k] = (count, now, until)
        while len(self._failed) > self.max_addresses:
            self._failed.popitem(last=False)

    def succeeded(self, address: str | None) -> None:
        self._failed.pop(self.key(address), None)

    def __len__(self) -> int:
        return len(self._failed)
