"""The kiosk's camera from `camera.source`: none at all (a scanner-only counter), or one that cannot be opened.

Real sources: a serial scanner on a pseudo-terminal, and an OpenCV camera on a device that does not exist.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.config import CameraSettings, DeviceSettings, ScannerSettings, Settings
from scanner.events import DecisionEvent
from scanner.sources.scanners import SerialScannerSource
from tests.helpers.notifysock import drain
from tests.helpers.serialpty import serial_pty
from ui.app import KioskApp, build_kiosk
from ui.cli import heartbeat
from ui.preview import PreviewTap
from ui.sound import RecordingSound


@pytest.fixture
def scanner_port() -> Iterator[tuple[int, str]]:
    with serial_pty() as pair:
        yield pair


@pytest.fixture
def make(core: Any, show_kiosk: Any, scanner_port: tuple[int, str]) -> Any:
    def make(camera: str) -> KioskApp:
        settings = Settings(device=DeviceSettings(data_dir=str(core.data_dir)), camera=CameraSettings(source=camera),
                            scanner=ScannerSettings(serial_port=scanner_port[1]))
        return show_kiosk(build_kiosk(settings, core=core, sound=RecordingSound()))

    return make


def scan(k: KioskApp, master: int, payload: str, qtbot: Any) -> Any:
    """The serial scanner reads `payload` once its port is open (pyserial drops what came before)."""
    serial = next(s for s in k.sources if isinstance(s, SerialScannerSource))
    qtbot.waitUntil(lambda: serial._serial is not None, timeout=15000)
    with qtbot.waitSignal(k.decided, timeout=15000) as sig:
        os.write(master, (payload + "\r\n").encode())
    return sig.args[0]


@pytest.mark.parametrize("camera", ["none", "", "None"])
def test_a_kiosk_without_a_camera_reads_the_scanner_and_says_so(camera: str, make: Any, world: Any, qtbot: Any,
                                                                  scanner_port: tuple[int, str]) -> None:
    k = make(camera)
    assert not any(isinstance(s, PreviewTap) for s in k.sources)
    assert [s.name for s in k.sources] == [f"serial:{scanner_port[1]}", "wedge"]
    k.start()
    idle = k.window.idle
    assert not idle.preview.isVisibleTo(idle) and not k.window.admin.camera_test.isVisibleTo(k.window.admin)
    assert "Codes are read by the scanner" in idle.scanner_only.text() and idle.scanner_only.isVisibleTo(idle)
    shown = scan(k, scanner_port[0], world.payloads["green"], qtbot)
    assert shown.source == f"serial:{scanner_port[1]}" and k.core.visit_log.count() == 1
    k.refresh_status()
    assert k.camera_ok and "Camera" not in idle.banner.text()
    os.close(scanner_port[0])  # the scanner's cable is pulled: it is the scanner that is missing, not a camera
    qtbot.waitUntil(lambda: "Scanner disconnected" in idle.banner.text(), timeout=15000)
    assert k.camera_ok and "Camera" not in idle.banner.text()
    bar = k.window.status_bar
    assert bar.chip("scanner").warn and bar.cells["scanner"].isVisible() and not bar.cells["camera"].isVisible()


def test_a_camera_that_cannot_open_leaves_the_scanner_working(make: Any, world: Any, qtbot: Any, tmp_path: Path,
                                                                scanner_port: tuple[int, str],
                                                                notify_socket: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    k = make(f"v4l2:{tmp_path / 'video9'}")
    assert k.has_camera and k.window.idle.preview.isVisibleTo(k.window.idle)
    assert not k.window.idle.scanner_only.isVisibleTo(k.window.idle)
    k.start()
    qtbot.waitUntil(lambda: not k.camera_ok, timeout=15000)
    qtbot.waitUntil(lambda: "Camera disconnected" in k.window.idle.banner.text(), timeout=5000)
    assert "could not be opened" in k.camera_message
    bar = k.window.status_bar
    assert bar.chip("camera").warn and "unavailable" in bar.chip("camera").value and bar.cells["camera"].isVisible()
    shown = scan(k, scanner_port[0], world.payloads["green"], qtbot)
    assert shown.source == f"serial:{scanner_port[1]}"
    assert k.pipeline is not None and k.pipeline.alive()
    # The watchdog goes on being fed: the camera's absence is on screen and retried, a restart would not cure it.
    sock, env = notify_socket
    for name, value in {**env, "WATCHDOG_USEC": "1000"}.items():
        monkeypatch.setenv(name, value)
    beat = heartbeat(k, Settings())
    assert beat.watchdog is not None
    beat.tick()
    assert beat.watchdog.problem is None and b"WATCHDOG=1" in drain(sock)
    assert not any(isinstance(e, DecisionEvent) and e.source.startswith("v4l2") for e in k.events)
