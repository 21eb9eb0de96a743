"""The kiosk started with no audio device: it still decides, and the status bar and idle screen say it is mute."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scanner.config import DeviceSettings, Settings, SoundSettings
from scanner.storage.datadir import DataDir
from ui.app import build_kiosk
from ui.model.status import AUDIO_PROBLEM


# Qt's multimedia backend reports the libraries and the sound server it cannot find: that is the
# situation under test, not a fault of the kiosk. Any other Qt warning still fails the test.
@pytest.mark.qt_log_ignore(r"Couldn't (load|resolve) (pipewire|va)", r"PulseAudioService: pa_context_connect")
def test_kiosk_without_any_audio_output_says_so(core: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # No sound server for QtMultimedia, and an ALSA device that does not exist for aplay.
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent/pulse")
    settings = Settings(device=DeviceSettings(data_dir=str(core.data_dir)),
                        sound=SoundSettings(aplay_device="checkpoint_no_such_device"))
    kiosk = build_kiosk(settings, core=core, sources=[])
    qtbot.addWidget(kiosk.window)
    kiosk.window.resize(800, 480)
    kiosk.window.show()
    try:
        kiosk.refresh_status()
        assert kiosk.sound.silent and kiosk.sound.output == "aplay"
        snap = kiosk.snapshot()
        assert snap.extra[AUDIO_PROBLEM] and "aplay exited" in snap.extra[AUDIO_PROBLEM]
        chip = kiosk.window.status_bar.chip("audio")
        assert chip.warn and kiosk.window.status_bar.cells["audio"].isVisible()
        assert "No sound output" in kiosk.window.idle.banner.text()
        # ... and the health report the sync agent sends to the hub says it too.
        health = json.loads(DataDir(core.data_dir).appliance_health.read_text())
        assert health["audio"]["state"] == "silent" and "aplay exited" in health["audio"]["problem"]
    finally:
        kiosk.stop()
