"""Heartbeat: the kiosk timer's beat reports the clock's trust and keeps systemd informed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.clock import NO_REFERENCE, TrustedClock
from scanner.service import sdnotify
from scanner.service.watchdog import Heartbeat, Watchdog
from tests.helpers.notifysock import drain

T0 = 1_790_000_000.0


class Times:
    def __init__(self) -> None:
        self.wall, self.mono = T0 - 86400.0, 500.0  # the device is a day behind


def write_status(data: Path, **fields: object) -> None:
    (data / "sync-status.json").write_text(json.dumps({"online": True, **fields}))


def test_the_status_line_follows_the_clock_and_the_frames(tmp_path: Path, notify_socket) -> None:
    sock, env = notify_socket
    t = Times()
    clock = TrustedClock.open(tmp_path, wall=lambda: t.wall, monotonic=lambda: t.mono, boot_id=lambda: "b")
    dog = Watchdog(lambda: sdnotify.watchdog(env=env), timeout=20, monotonic=lambda: t.mono)
    beat = Heartbeat(watchdog=dog, clock=clock,
                     notify=lambda state: sdnotify.notify(state, env=env))
    assert beat.ready()
    dog.frame()
    assert beat.tick() == f"scanning; clock untrusted ({NO_REFERENCE})"
    assert drain(sock) == [b"READY=1", b"WATCHDOG=1", b"STATUS=scanning; clock untrusted (no_reference)"]

    clock.confirm_offset(86400.0, t.wall - 3)  # what the Session does with the sync agent's hub time
    t.mono += 10
    t.wall += 10
    dog.frame()
    assert beat.tick() == "scanning; clock trusted"
    assert clock.now() == pytest.approx(T0 + 10)
    assert drain(sock) == [b"WATCHDOG=1", b"STATUS=scanning; clock trusted"]
    t.mono += 1
    t.wall += 1
    beat.tick()
    assert drain(sock) == []  # nothing changed, nothing due: no datagram
    t.mono += 10
    t.wall += 10
    assert beat.tick().startswith("watchdog withheld: no frame for")
    assert [m for m in drain(sock) if m.startswith(b"STATUS=")] != []
    assert beat.stopping()
    assert drain(sock) == [b"STOPPING=1"]


def test_without_watchdog_or_clock(tmp_path: Path) -> None:
    sent: list[str] = []
    beat = Heartbeat(watchdog=None, notify=lambda s: sent.append(s) or True)
    assert beat.tick() == "running"
    assert sent == ["STATUS=running"]


def test_for_kiosk_builds_the_watchdog_from_the_environment(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    beat = Heartbeat.for_kiosk(last_frame=lambda: None, alive=lambda: False, clock=None)
    assert beat.watchdog is not None and beat.watchdog.timeout == 30.0
    assert beat.watchdog.check() == "pipeline not alive"
    monkeypatch.delenv("WATCHDOG_USEC")
    assert Heartbeat.for_kiosk(last_frame=lambda: None, alive=lambda: True, clock=None).watchdog is None
