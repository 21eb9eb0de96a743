"""The kiosk started with no audio device: it still decides, and the status bar and idle screen say it is mute."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keys.localtext import LocalText
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


def test_kiosk_speaks_the_headline_it_shows(core: Any, world: Any, qtbot: Any, tmp_path: Path) -> None:
    from scanner.demo.session import decide_now
    from scanner.sound.player import Announcer, RecordingPlayer
    from scanner.sound.prompts import Cue, profile_cues
    from scanner.sound.voice import CueCache, find_espeak
    from ui.app import KioskApp

    player = RecordingPlayer()
    sound = Announcer(CueCache(tmp_path / "voice", mode="both", language="both", espeak=find_espeak()), player)
    kiosk = KioskApp(core, [], sound=sound)
    qtbot.addWidget(kiosk.window)
    kiosk.window.resize(800, 480)
    kiosk.window.show()
    green = profile_cues(core.profile)["green"]
    assert green == Cue("pass", LocalText("绿码，请通行", "Green code, please pass"))
    kiosk.prepare_voice()  # what start() does: the profile's cues, made in the background
    qtbot.wait_until(lambda: sound.cues.path_of(green).exists(), timeout=60000)
    kiosk.window.show_decision(decide_now(core, world.payloads["green"]))
    assert player.files[-1] == sound.cues.path_of(green)
    assert sound.said[-1] == LocalText("绿码，请通行", "Green code, please pass")
    kiosk.stop()
