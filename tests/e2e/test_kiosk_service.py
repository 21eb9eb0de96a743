"""`checkpoint kiosk` under a systemd-like supervisor: READY, watchdog pings while frames flow, STOPPING."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

EXE = shutil.which("checkpoint", path=str(Path(sys.executable).parent)) or "checkpoint"


def kiosk_config(world, tmp_path: Path, codes: Path, *, camera: str = "", tables: str = "") -> Path:
    """A kiosk on the world's lists, reading the QR images in `codes`, silent and windowed; `camera`: more
    [camera] lines, `tables`: more tables."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
[device]
id = "gate-test"
data_dir = "{tmp_path / 'data'}"
[trust]
anchors = ["{world.anchor_path}"]
trust_list = "{world.trust_list_path}"
status_lists = [{", ".join(f'"{p}"' for p in world.status_list_paths)}]
[camera]
source = "dir:{codes}"
fps = 10
{camera}
[sound]
enabled = false
[display]
fullscreen = false
{tables}
""", encoding="utf-8")
    return cfg


def test_kiosk_notifies_systemd_and_pings_while_frames_flow(world, tmp_path: Path) -> None:
    cfg = kiosk_config(world, tmp_path, world.directory / "qr")
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(60)
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "2000000", "QT_QPA_PLATFORM": "offscreen"}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([EXE, "kiosk", "--config", str(cfg), "--offscreen", "--duration", "6"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    messages: list[str] = []
    try:
        while "STOPPING=1" not in messages:
            data = sock.recv(4096).decode()
            messages.extend(data.splitlines())
    finally:
        _, err = proc.communicate(timeout=60)
        sock.close()
    assert proc.returncode == 0, err
    assert "READY=1" in messages
    assert messages.count("WATCHDOG=1") >= 2, messages
    assert any(m.startswith("STATUS=scanning") for m in messages), messages
    assert messages.index("READY=1") < messages.index("WATCHDOG=1") < messages.index("STOPPING=1")
    assert "Traceback" not in err


def test_a_stopped_kiosk_releases_the_turnstile_relay(world, tmp_path: Path) -> None:
    """A USB relay board (a pseudo-terminal here) told `OPEN 30000` is told `OFF` when the kiosk stops, long
    before the pulse would end: a stopped kiosk never leaves the turnstile open."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "timedatectl").write_text("#!/bin/sh\necho yes\n")  # systemd's NTP state: synchronised
    (bin_dir / "timedatectl").chmod(0o755)
    # Two green codes shown in turn: each comes back into view, and is admitted once the clock is trusted.
    codes = tmp_path / "codes"
    codes.mkdir()
    for name in ("green.png", "card.png"):
        shutil.copy(world.directory / "qr" / name, codes / name)
    master, slave = os.openpty()
    cfg = kiosk_config(world, tmp_path, codes, camera="debounce = 0.5", tables=f"""
[venue]
profile = "mall"  # no anti-passback
[gate]
output = "serial:{os.ttyname(slave)}"
pulse_ms = 30000
""")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    try:
        proc = subprocess.run([EXE, "kiosk", "--config", str(cfg), "--offscreen", "--duration", "6"], env=env,
                              capture_output=True, text=True, timeout=60)
        os.set_blocking(master, False)
        got = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(master, 4096):
                got += chunk
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, proc.stderr
    assert b"OPEN 30000\n" in got, (got, proc.stderr)
    assert got.endswith(b"OFF\n"), got
