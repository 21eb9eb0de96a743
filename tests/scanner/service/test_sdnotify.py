"""sd_notify against a real AF_UNIX datagram socket, by path and in the abstract namespace."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.service import sdnotify


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(30)
    yield sock, {"NOTIFY_SOCKET": str(path)}
    sock.close()


def test_ready_watchdog_status_and_stopping_arrive_as_datagrams(listener) -> None:
    sock, env = listener
    assert sdnotify.ready(env=env)
    assert sock.recv(4096) == b"READY=1"
    assert sdnotify.watchdog(env=env)
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert sdnotify.status("scanning\n12 visits pending", env=env)
    assert sock.recv(4096) == b"STATUS=scanning 12 visits pending"
    assert sdnotify.stopping(env=env)
    assert sock.recv(4096) == b"STOPPING=1"
    assert sdnotify.notify("READY=1\nSTATUS=up", env=env)
    assert sock.recv(4096) == b"READY=1\nSTATUS=up"


def test_a_status_that_is_not_valid_unicode_is_sent_with_replacement_characters(listener) -> None:
    """"Never raises" covers text too: a lone surrogate (JSON's `\\udcff` in an error a hub sent) failed to
    encode."""
    sock, env = listener
    assert sdnotify.status("offline: device \udcff revoked", env=env)
    assert sock.recv(4096) == "STATUS=offline: device \ufffd revoked".encode()


def test_abstract_namespace_address() -> None:
    name = f"checkpoint-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(30)
        assert sdnotify.ready(env={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"READY=1"


def test_environment_variable_is_read_by_default(listener) -> None:
    sock, env = listener
    code = "from scanner.service import sdnotify; raise SystemExit(0 if sdnotify.watchdog() else 1)"
    subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, check=True, timeout=120)
    assert sock.recv(4096) == b"WATCHDOG=1"


def test_without_notify_socket_every_call_is_a_no_op() -> None:
    assert sdnotify.notify("READY=1", env={}) is False
    assert sdnotify.watchdog(env={"NOTIFY_SOCKET": ""}) is False
    assert sdnotify.ready(env={"NOTIFY_SOCKET": "relative/path"}) is False


def test_a_missing_socket_is_reported_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert sdnotify.ready(env={"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) is False
    assert "sd_notify failed" in caplog.text


def test_a_full_receiver_queue_never_blocks_the_caller(listener) -> None:
    _sock, env = listener
    # Nobody reads: the kernel queue fills up and further pings fail at once instead of hanging.
    results = [sdnotify.watchdog(env=env) for _ in range(2000)]
    assert results[0] is True
    assert results[-1] is False


def test_watchdog_interval_from_environment() -> None:
    pid = str(os.getpid())
    assert sdnotify.watchdog_interval(env={"WATCHDOG_USEC": "20000000"}) == 20.0
    assert sdnotify.watchdog_interval(env={"WATCHDOG_USEC": "1500000", "WATCHDOG_PID": pid}) == 1.5
    assert sdnotify.watchdog_interval(env={"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_interval(env={}) is None
    assert sdnotify.watchdog_interval(env={"WATCHDOG_USEC": "0"}) is None
    assert sdnotify.watchdog_interval(env={"WATCHDOG_USEC": "soon"}) is None
    assert sdnotify.watchdog_interval(env={"WATCHDOG_USEC": "5", "WATCHDOG_PID": "x"}) is None
