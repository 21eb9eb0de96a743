"""The systemd notification protocol (sd_notify) in a few lines: READY, WATCHDOG, STATUS, STOPPING, EXTEND_TIMEOUT.

systemd passes a datagram socket in `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace)
to services with `Type=notify` or `WatchdogSec=`. Each message is one datagram of `KEY=VALUE` lines.
Outside systemd (tests, a developer's shell) the variable is unset and every call is a cheap no-op
that returns False, so callers never need to know whether they run under systemd. `Notifier` sends the
same messages through a send function of the caller's choosing (a test records them).
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

READY = "READY=1"
WATCHDOG = "WATCHDOG=1"
STOPPING = "STOPPING=1"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def status_message(text: str) -> str:
    """`STATUS=` with `text` on one line: a newline would start a new assignment."""
    return "STATUS=" + " ".join(text.splitlines())


def _address(env: Mapping[str, str]) -> str | None:
    addr = env.get("NOTIFY_SOCKET", "")
    if not addr or addr[0] not in "/@":
        return None
    if addr[0] == "@":
        # Abstract namespace: the kernel name starts with a NUL byte instead of the '@'.
        return "\0" + addr[1:]
    return addr


def notify(state: str, *, env: Mapping[str, str] | None = None) -> bool:
    """Send one notification such as "READY=1"; True if it was delivered to a socket.

    Never raises: a watchdog ping that fails must not take down the process it is meant to guard.
    """
    addr = _address(os.environ if env is None else env)
    if addr is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Non-blocking: a stalled receiver must never freeze the UI thread that pings.
            sock.setblocking(False)
            sock.connect(addr)
            # A lone surrogate (from JSON's "\udcff" in a message) cannot be encoded: sent as U+FFFD.
            sock.sendall(_LONE_SURROGATE.sub("\ufffd", state).encode("utf-8"))
    except OSError as e:
        log.warning("sd_notify failed socket=%s error=%s", addr.replace("\0", "@"), e.strerror or e)
        return False
    return True


def ready(*, env: Mapping[str, str] | None = None) -> bool:
    """Tell systemd start-up is complete (`Type=notify`); the watchdog starts counting from here."""
    return notify(READY, env=env)


def watchdog(*, env: Mapping[str, str] | None = None) -> bool:
    """Ping the service watchdog (`WatchdogSec=`)."""
    return notify(WATCHDOG, env=env)


def status(text: str, *, env: Mapping[str, str] | None = None) -> bool:
    """A one-line status shown by `systemctl status`."""
    return notify(status_message(text), env=env)


def extend_timeout(seconds: float, *, env: Mapping[str, str] | None = None) -> bool:
    """Ask for `seconds` more before the start (or stop) in progress times out: long work before READY."""
    return notify(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}", env=env)


def stopping(*, env: Mapping[str, str] | None = None) -> bool:
    """Tell systemd a clean shutdown has begun, so a slow stop is not taken for a hang."""
    return notify(STOPPING, env=env)


class Notifier:
    """The service notifications over one send function: `notify` (systemd's socket) unless told otherwise."""

    def __init__(self, send: Callable[[str], bool] = notify) -> None:
        self.send = send

    @classmethod
    def silent(cls) -> Notifier:
        """One that sends nothing (a process not run as a service)."""
        return cls(lambda _message: False)

    def ready(self) -> bool:
        return self.send(READY)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG)

    def status(self, text: str) -> bool:
        return self.send(status_message(text))

    def stopping(self) -> bool:
        return self.send(STOPPING)


def watchdog_interval(*, env: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout in seconds from `$WATCHDOG_USEC`, or None when no watchdog is set for us.

    Ping at least twice per interval (systemd's own advice). `$WATCHDOG_PID`, when set, names the
    process the watchdog is meant for; a child that inherited the variables must not ping.
    """
    e = os.environ if env is None else env
    usec = e.get("WATCHDOG_USEC", "")
    pid = e.get("WATCHDOG_PID", "")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        value = int(usec)
    except ValueError:
        return None
    if value <= 0:
        return None
    return value / 1_000_000
