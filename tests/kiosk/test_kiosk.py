"""The whole kiosk: real pipeline threads, keyboard wedge, camera unplugged and back, PIN, admin panel."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from scanner.config import CameraSettings
from scanner.errors import SourceError
from scanner.pin import hash_pin
from scanner.sources.scanners import WedgeSource
from scanner.sources.synthetic import SyntheticSource
from tests.helpers import REPO
from ui.app import KioskApp, KioskOptions
from ui.model.pinauth import PinGate
from ui.model.view import result_view
from ui.sound import RecordingSound


class UnpluggableCamera:
    """A synthetic camera whose cable can be pulled: reads and opens fail with `SourceError` meanwhile."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.name = "camera:test"
        self.live = True
        self.plugged = True

    def open(self) -> None:
        if not self.plugged:
            raise SourceError("camera:test: no such device")
        self.inner.open()

    def read(self) -> Any:
        if not self.plugged:
            raise SourceError("camera:test: device unplugged")
        return self.inner.read()

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def make_kiosk(show_kiosk: Any) -> Any:
    def make(core: Any, sources: list[Any], **kw: Any) -> KioskApp:
        kw.setdefault("sound", RecordingSound())
        kw.setdefault("options", KioskOptions(result_seconds=30))
        return show_kiosk(KioskApp(core, sources, camera_settings=CameraSettings(debounce=30), **kw))

    return make


def test_keyboard_wedge_scan_reaches_the_screen(core: Any, world: Any, make_kiosk: Any, qtbot: Any) -> None:
    wedge = WedgeSource(timeout=5.0)
    k = make_kiosk(core, [], wedge=wedge)
    k.start()
    payload = world.payloads["other_region"]
    with qtbot.waitSignal(k.decided, timeout=15000) as sig:
        qtbot.keyClicks(k.window, payload)
        qtbot.keyClick(k.window, Qt.Key.Key_Return)
    shown = sig.args[0]
    assert shown.payload_key == payload and shown.source == "wedge"
    qtbot.waitUntil(lambda: k.window.page() == "result", timeout=5000)
    assert "M*** D**** · 上海 Shanghai" in k.window.result.texts()
    assert k.core.visit_log.count() == 1


def test_camera_scan_preview_disconnect_and_recovery(core: Any, world: Any, make_kiosk: Any, qtbot: Any) -> None:
    cam = UnpluggableCamera(SyntheticSource([world.payloads["green"]], fps=15, show_frames=10_000, seed=3))
    k = make_kiosk(core, [cam], options=KioskOptions(result_seconds=30, status_interval_ms=100))
    k.start()
    with qtbot.waitSignal(k.decided, timeout=20000) as sig:
        pass
    assert result_view(sig.args[0].decision).kind == "pass"
    k.window.go_idle()
    qtbot.waitUntil(lambda: k.window.idle.preview.frames > 0, timeout=10000)
    img = k.window.idle.preview.image
    assert isinstance(img, QImage) and (img.width(), img.height()) == (640, 480)
    cam.plugged = False
    qtbot.waitUntil(lambda: not k.camera_ok, timeout=15000)
    qtbot.waitUntil(lambda: "Camera disconnected" in k.window.idle.banner.text(), timeout=5000)
    assert k.window.idle.banner.isVisibleTo(k.window.idle)
    cam.plugged = True
    qtbot.waitUntil(lambda: k.camera_ok, timeout=20000)
    qtbot.waitUntil(lambda: "Camera" not in k.window.idle.banner.text(), timeout=5000)


def test_pin_right_wrong_and_rate_limit(core: Any, make_kiosk: Any, qtbot: Any) -> None:
    now = [1000.0]
    gate = PinGate(hash_pin("2468", ln=10), max_attempts=3, lockout_seconds=60, clock=lambda: now[0])
    k = make_kiosk(core, [], pin_gate=gate)
    w = k.window

    def enter(pin: str) -> None:
        for ch in pin:
            qtbot.mouseClick(w.pin.keys[ch], Qt.MouseButton.LeftButton)
        qtbot.mouseClick(w.pin.keys["OK"], Qt.MouseButton.LeftButton)

    qtbot.keyClick(w, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert w.page() == "pin"
    enter("1111")
    assert w.page() == "pin" and "2 tries left" in w.pin.message.text()
    enter("2222")
    enter("3333")
    assert "locked for 60 s" in w.pin.message.text()
    enter("2468")  # the right PIN, but locked out
    assert w.page() == "pin" and "Locked" in w.pin.message.text()
    now[0] += 61
    enter("2468")
    assert w.page() == "admin"
    qtbot.mouseClick(w.admin.back, Qt.MouseButton.LeftButton)
    assert w.page() == "idle"
    # Long-press the top-left corner opens the PIN pad too.
    with qtbot.waitSignal(w.screen_changed, timeout=5000) as sig:
        qtbot.mousePress(w, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    qtbot.mouseRelease(w, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    assert sig.args == ["pin"]


def test_admin_panel_actions(core: Any, world: Any, make_kiosk: Any, qtbot: Any) -> None:
    from scanner.demo.session import decide_now

    sound = RecordingSound()
    gate = PinGate(hash_pin("1357", ln=10))
    k = make_kiosk(core, [], pin_gate=gate, sound=sound)
    w = k.window
    for name in ("green", "forged", "other_region"):
        w.show_decision(decide_now(core, world.payloads[name]))
    w.open_pin()
    w.pin.entry.setText("1357")
    qtbot.mouseClick(w.pin.keys["OK"], Qt.MouseButton.LeftButton)
    assert w.page() == "admin"
    # Recent decisions: time, verdict, issuer; never a name.
    table = w.admin.recent
    cells = [table.item(r, c).text() for r in range(table.rowCount()) for c in range(3)]
    assert table.rowCount() == 3 and "CN-SH" in cells and any("bad_signature" in c for c in cells)
    assert not any("*" in c for c in cells)
    # Switch the venue profile.
    w.admin.profile.setCurrentText("school")
    w.admin.profile.activated.emit(w.admin.profile.currentIndex())
    assert core.profile.name == "school" and "School" in w.idle.venue.text()
    # Export the log.
    qtbot.mouseClick(w.admin.export, Qt.MouseButton.LeftButton)
    assert "No USB stick" in w.admin.message.text()
    path = Path(w.admin.message.text().split(": ", 1)[1])
    assert path.is_file() and len(path.read_text().splitlines()) == 3
    # Sync now: the agent is asked through the data directory.
    qtbot.mouseClick(w.admin.sync, Qt.MouseButton.LeftButton)
    assert (core.data_dir / "sync-request").is_file() and "Sync requested" in w.admin.message.text()
    # Volume and mute reach the sound output.
    w.admin.volume.setValue(30)
    assert sound.volume == pytest.approx(0.3)
    w.admin.mute.setChecked(True)
    assert sound.muted
    # Quit asks first; Cancel keeps the kiosk running.
    with qtbot.assertNotEmitted(w.quit_requested):
        qtbot.mouseClick(w.admin.quit, Qt.MouseButton.LeftButton)
        assert w.admin.quit_confirm.isVisible() and "Quit?" in w.admin.quit_question.text()
        qtbot.mouseClick(w.admin.quit_no, Qt.MouseButton.LeftButton)
    assert not w.admin.quit_confirm.isVisible() and w.admin.quit.isVisible()
    qtbot.mouseClick(w.admin.quit, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(w.quit_requested, timeout=3000):
        qtbot.mouseClick(w.admin.quit_yes, Qt.MouseButton.LeftButton)


def test_demo_runs_headless_and_shows_every_kind(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    shots = tmp_path / "shots"
    proc = subprocess.run([sys.executable, "-m", "scanner.cli", "demo", "--duration", "100", "--scene-seconds",
                           "0.8", "--screenshots", str(shots), "--out", str(tmp_path / "demo")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    shown_line = next(line for line in out.splitlines() if line.startswith("Shown: "))
    shown = set(shown_line.removeprefix("Shown: ").split(", "))
    expected = {"green", "yellow", "red", "guardian", "card", "other_region", "national", "expired", "forged",
                "revoked", "turned_red", "family"}
    assert expected <= shown, out
    assert "Not shown" not in out
    assert "Local hub: https://127.0.0.1:" in out and "not yet uploaded to the hub" in out
    for kind in ("ADMIT  ✓ green", "DENY   ! yellow", "DENY   ✕ red", "DENY   ✕ forged", "guard acknowledged"):
        assert kind in out
    pngs = sorted(p.name for p in shots.glob("*.png"))
    assert "01-idle.png" in pngs
    # Each screen is saved under the name of the code it shows.
    assert {name for name in expected if any(p.endswith(f"-{name}.png") for p in pngs)} == expected
    assert QImage(str(shots / "01-idle.png")).size().width() == 800
    # Qt's own warnings (anything but our logging lines) would mean a screen was built wrongly.
    assert [line for line in proc.stderr.splitlines() if line and not line.startswith(("INFO", "WARNING"))] == []


def test_the_administrator_acknowledges_a_damaged_logs_notice(core: Any, make_kiosk: Any, qtbot: Any,
                                                               tmp_path: Path) -> None:
    from scanner.storage.salvage import salvage
    from tests.helpers.damage import overwrite_pages, written_log

    damaged = tmp_path / "visits.sqlite.bad-1"
    written_log(damaged, 80)
    overwrite_pages(damaged, (3,))
    kept = core.visit_log.recovered.add(salvage(damaged))
    gate = PinGate(hash_pin("1357", ln=10))
    k = make_kiosk(core, [], pin_gate=gate)
    w = k.window
    k.refresh_status()
    assert "visit log damaged (visits.sqlite.bad-1)" in w.idle.banner.text()
    w.open_pin()
    w.pin.entry.setText("1357")
    qtbot.mouseClick(w.pin.keys["OK"], Qt.MouseButton.LeftButton)
    assert w.page() == "admin" and w.admin.ack_storage.isVisibleTo(w.admin)
    qtbot.mouseClick(w.admin.ack_storage, Qt.MouseButton.LeftButton)
    assert "Storage notice acknowledged" in w.admin.message.text()
    assert not w.admin.ack_storage.isVisibleTo(w.admin) and "damaged" not in w.idle.banner.text()
    assert all(c.name != "storage" for c in w.status_bar.chips)
    # Read, not forgotten: the recovered visits still wait for the sync agent.
    assert core.visit_log.recovered.salvages()[0].acknowledged_ms is not None
    assert core.visit_log.pending_count() == kept


def test_admin_choices_survive_a_restart(core: Any, make_kiosk: Any, tmp_path: Path) -> None:
    from scanner.config import DeviceSettings, Settings
    from ui.app import _venue_profile
    from ui.model.prefs import PREFS_FILE, KioskPrefs

    k = make_kiosk(core, [])
    k.window.profile_chosen.emit("hospital")
    k.window.admin.volume_changed.emit(0.25)
    k.window.admin.mute_changed.emit(True)
    assert core.profile.name == "hospital"
    assert KioskPrefs.load(core.data_dir) == KioskPrefs(profile="hospital", volume=0.25, muted=True)
    # The next start picks the site's choice over the config file's profile ...
    settings = Settings(device=DeviceSettings(data_dir=str(core.data_dir)))
    assert settings.venue.profile == "transport" and _venue_profile(settings).name == "hospital"
    # ... unless that choice no longer exists; a damaged file is no choice at all.
    KioskPrefs(profile="cinema").save(core.data_dir)
    assert _venue_profile(settings).name == "transport"
    (core.data_dir / PREFS_FILE).write_text("{not json")
    assert KioskPrefs.load(core.data_dir) == KioskPrefs()


def test_kiosk_reports_its_health_for_the_hub(core: Any, world: Any, make_kiosk: Any, qtbot: Any) -> None:
    import json

    from sync.health import read_appliance_health

    cam = UnpluggableCamera(SyntheticSource([world.payloads["green"]], fps=15, show_frames=10_000, seed=3))
    k = make_kiosk(core, [cam], options=KioskOptions(result_seconds=30, status_interval_ms=100, health_every=0.2))
    k.start()
    with qtbot.waitSignal(k.decided, timeout=20000):
        pass
    path = core.data_dir / "appliance-health.json"

    def record() -> dict[str, Any]:
        return json.loads(path.read_text()) if path.exists() else {}

    qtbot.waitUntil(lambda: record().get("last_decision_ts") is not None
                    and record()["camera"].get("fps", 0) > 0, timeout=10000)
    rec = read_appliance_health(core.data_dir)
    assert rec["camera"]["state"] == "ok" and rec["errors_since_start"] == 0
    assert rec["software_version"] and rec["audio"]["state"] == "ok" and isinstance(rec["clock_trusted"], bool)
    cam.plugged = False
    qtbot.waitUntil(lambda: record()["camera"]["state"] == "disconnected", timeout=15000)
    assert "unplugged" in record()["camera"]["message"] or "no such device" in record()["camera"]["message"]


def test_export_goes_to_a_mounted_usb_stick(core: Any, world: Any, make_kiosk: Any, tmp_path: Path) -> None:
    from scanner.demo.session import decide_now

    # A stick as /proc/mounts lists it (a space in its label is written \\040), next to the SD card.
    stick = tmp_path / "media" / "pi" / "GATE LOGS"
    stick.mkdir(parents=True)
    mounts = tmp_path / "mounts"
    escaped = str(stick).replace(" ", "\\040")
    mounts.write_text(f"/dev/mmcblk0p2 / ext4 rw,noatime 0 0\n/dev/sda1 {escaped} vfat rw,nosuid,nodev 0 0\n")
    k = make_kiosk(core, [], options=KioskOptions(result_seconds=30, mounts_file=mounts,
                                                  usb_roots=(str(tmp_path / "media") + "/",)))
    k.window.show_decision(decide_now(core, world.payloads["green"]))
    k.window.export_requested.emit()
    message = k.window.admin.message.text()
    assert "USB stick" in message and "No USB" not in message
    exported = list((stick / "checkpoint-exports").glob("visits-*.jsonl"))
    assert len(exported) == 1 and len(exported[0].read_text().splitlines()) == 1


def test_an_admin_confirms_the_time_in_the_panel(make_core: Any, world: Any, make_kiosk: Any, qtbot: Any,
                                                 tmp_path: Path, caplog: Any) -> None:
    """No hub and no NTP: the clock never becomes trusted by itself, and every code is a manual check until
    the administrator confirms the time shown in the PIN-protected panel (logged)."""
    import logging

    from scanner.clock import TrustedClock
    from scanner.demo.session import decide_now

    clock = TrustedClock.open(tmp_path / "clock")
    core = make_core(clock=clock)
    assert not clock.trusted() and not decide_now(core, world.payloads["green"]).decision.admit
    k = make_kiosk(core, [], pin_gate=PinGate(hash_pin("1357", ln=10)))
    w = k.window
    w.open_pin()
    w.pin.entry.setText("1357")
    opened = time.time()
    qtbot.mouseClick(w.pin.keys["OK"], Qt.MouseButton.LeftButton)
    # The minute may turn while the panel opens.
    shown = {time.strftime("%H:%M", time.localtime(t)) for t in (opened, time.time())}
    assert w.page() == "admin" and any(m in w.admin.confirm_time.text() for m in shown)
    with caplog.at_level(logging.WARNING, logger="scanner.clock"):
        qtbot.mouseClick(w.admin.confirm_time, Qt.MouseButton.LeftButton)
    assert clock.trusted() and "Clock confirmed" in w.admin.message.text()
    assert any("confirmed by an admin" in r.getMessage() for r in caplog.records)
    assert decide_now(core, world.payloads["card"]).decision.admit


def test_a_wedge_scan_while_the_admin_panel_is_open_is_queued_and_presses_no_button(
        core: Any, world: Any, make_kiosk: Any, qtbot: Any) -> None:
    """A customer scans while the pharmacist has the panel open: the scan's spaces and Enter must not press the
    button last touched (sync, export, quit…), and the scan waits for the screen like a camera's."""
    from PySide6.QtWidgets import QApplication

    wedge = WedgeSource(timeout=5.0)
    k = make_kiosk(core, [], wedge=wedge, pin_gate=PinGate(hash_pin("2468", ln=10)))
    k.start()
    w = k.window
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
    qtbot.keyClick(w, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    for ch in "2468":
        qtbot.mouseClick(w.pin.keys[ch], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(w.pin.keys["OK"], Qt.MouseButton.LeftButton)
    assert w.page() == "admin"
    syncs: list[bool] = []
    w.sync_requested.connect(lambda: syncs.append(True))
    qtbot.mouseClick(w.admin.sync, Qt.MouseButton.LeftButton)
    assert syncs == [True]
    payload = world.payloads["green"]
    assert " " in payload  # Base45: a space, which presses a focused button
    with qtbot.waitSignal(k.decided, timeout=15000):
        target = QApplication.focusWidget() or w
        qtbot.keyClicks(target, payload)
        qtbot.keyClick(target, Qt.Key.Key_Return)
    assert syncs == [True] and w.page() == "admin" and len(w.queue) == 1
    qtbot.mouseClick(w.admin.back, Qt.MouseButton.LeftButton)
    assert w.page() == "result" and w.group().members[0].code_key
