"""Players: aplay on a real ALSA device (the null sink) and on one that does not exist; the announcer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from keys.localtext import LocalText
from scanner.config import SoundSettings
from scanner.sound.player import Announcer, AplayPlayer, RecordingPlayer, SilentPlayer, open_announcer
from scanner.sound.prompts import Cue
from scanner.sound.voice import CueCache, find_espeak, tone_path

NO_DEVICE = "checkpoint_no_such_device"


@pytest.fixture(scope="module")
def aplay() -> str:
    found = shutil.which("aplay")
    if found is None:
        pytest.fail("aplay is not installed (apt install alsa-utils)")
    return found


def test_aplay_on_a_working_device_has_no_problem(aplay: str) -> None:
    player = AplayPlayer(aplay, "null")
    assert player.probe() is None
    player.play(tone_path("pass"), 0.5)
    player.wait()
    assert player.problem is None


def test_aplay_without_a_device_says_so(aplay: str) -> None:
    player = AplayPlayer(aplay, NO_DEVICE)
    problem = player.probe()
    assert problem is not None and problem.startswith("aplay exited")
    player.problem = None
    player.play(tone_path("stop"), 0.5)
    player.wait()
    assert player.problem is not None and "aplay exited" in player.problem


def test_open_announcer_with_no_output_is_silent_and_says_so(tmp_path: Path) -> None:
    sound = open_announcer(SoundSettings(aplay_device=NO_DEVICE), tmp_path)
    assert sound.silent and sound.problem is not None
    sound.play("pass", LocalText("绿码，请通行", "Green code, please pass"))
    assert sound.played == ["pass"]


def test_announcer_plays_the_tone_until_the_words_are_ready(tmp_path: Path) -> None:
    espeak = find_espeak()
    assert espeak is not None
    player = RecordingPlayer()
    sound = Announcer(CueCache(tmp_path, mode="both", language="en", espeak=espeak), player, volume=0.7)
    words = LocalText("红码，禁止通行", "Red code, do not enter")
    cue = Cue("alert", words)
    thread = sound.prepare_in_background([cue])
    sound.play("alert", words)
    assert thread is not None
    thread.join(timeout=30)
    sound.play("alert", words)
    assert player.files[-1] == sound.cues.path_of(cue) and player.files[-1].exists()
    assert player.files[0] in (tone_path("alert"), sound.cues.path_of(cue))
    assert sound.said == [words, words]


def test_mute_and_volume(tmp_path: Path) -> None:
    player = RecordingPlayer()
    sound = Announcer(CueCache(tmp_path, mode="tones"), player, volume=2.0)
    assert sound.volume == 1.0
    sound.set_muted(True)
    sound.play("pass")
    sound.set_muted(False)
    sound.set_volume(0.0)
    sound.play("stop")
    sound.set_volume(0.4)
    sound.play("repeat")
    assert sound.played == ["repeat"] and player.files == [tone_path("repeat")]


def test_silent_player_keeps_its_problem() -> None:
    sound = Announcer(CueCache(Path("/nonexistent"), mode="tones"), SilentPlayer("no audio output"))
    sound.play("alert")
    assert sound.silent and sound.problem == "no audio output"
