"""Spoken prompts: a cue file for every outcome of every built-in profile, made by the real espeak-ng."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from keys.localtext import LocalText
from scanner.policy import OUTCOMES, builtin_names, load_profile
from scanner.sound.prompts import PROMPTS, Cue, profile_cues, prompt_cue, spoken
from scanner.sound.voice import RATE, CueCache, VoiceError, appliance_cues, find_espeak, tone_path


def duration(path: Path) -> float:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
        return w.getnframes() / w.getframerate()


@pytest.fixture(scope="module")
def espeak() -> str:
    found = find_espeak()
    if found is None:
        pytest.fail("espeak-ng is not installed (apt install espeak-ng): voice prompts cannot be made")
    return found


def test_screen_words_become_speech_with_pauses() -> None:
    assert spoken(LocalText("绿码 请通行", "Green code — please pass")) == LocalText("绿码，请通行",
                                                                                 "Green code, please pass")
    assert spoken(LocalText("红码 禁止通行", "Red code — do not enter")).zh == "红码，禁止通行"
    assert prompt_cue("show_code").speech == LocalText("请出示健康码", "Please show your health code")


def test_voice_files_present_for_every_profile_outcome(tmp_path: Path, espeak: str) -> None:
    cache = CueCache(tmp_path / "voice", mode="both", language="both", espeak=espeak)
    for name in builtin_names():
        profile = load_profile(name)
        cues = profile_cues(profile)
        assert set(cues) == set(OUTCOMES), name
        cache.prepare(appliance_cues(profile))
        assert cache.problem is None
        for outcome, cue in cues.items():
            path = cache.path_of(cue)
            assert path.exists(), f"{name}/{outcome}: no voice file"
            # The tone, then Mandarin, then English: well past the tone alone.
            assert duration(path) > duration(tone_path(cue.tone)) + 0.8, f"{name}/{outcome}"
            assert cache.ready(cue) == path
    for prompt in PROMPTS:
        assert cache.path_of(prompt_cue(prompt)).exists()
    # Different words make different files; the same words in another profile share one.
    transport, mall = profile_cues(load_profile("transport")), profile_cues(load_profile("mall"))
    assert cache.path_of(transport["green"]) != cache.path_of(mall["green"])
    assert cache.path_of(transport["expired"]) == cache.path_of(mall["expired"])


def test_mode_and_language_shape_the_file(tmp_path: Path, espeak: str) -> None:
    cue = Cue("pass", LocalText("绿码，请通行", "Green code, please pass"))
    both = CueCache(tmp_path, mode="both", language="both", espeak=espeak).build(cue)
    voice_zh = CueCache(tmp_path, mode="voice", language="zh", espeak=espeak).build(cue)
    voice_en = CueCache(tmp_path, mode="voice", language="en", espeak=espeak).build(cue)
    assert len({both, voice_zh, voice_en}) == 3
    assert duration(both) > duration(voice_zh) + duration(tone_path("pass"))
    assert CueCache(tmp_path, mode="tones", espeak=espeak).path_of(cue) == tone_path("pass")


def test_without_espeak_the_tone_plays_and_the_problem_is_named(tmp_path: Path) -> None:
    cache = CueCache(tmp_path, mode="both", language="zh", espeak=None)
    cue = Cue("stop", LocalText("红码，禁止通行", "Red code"))
    assert cache.problem is not None and "espeak-ng" in cache.problem
    assert cache.ready(cue) == tone_path("stop")
    with pytest.raises(VoiceError):
        cache.build(cue)


def test_a_failing_synthesiser_is_reported_not_raised(tmp_path: Path) -> None:
    cache = CueCache(tmp_path, mode="voice", language="en", espeak="/bin/false")
    cache.prepare([Cue("pass", LocalText("绿码", "Green code"))])
    assert cache.problem is not None and "espeak-ng exited 1" in cache.problem


def test_unknown_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        CueCache(tmp_path, mode="loud")
    with pytest.raises(ValueError, match="language"):
        CueCache(tmp_path, language="fr")
    with pytest.raises(ValueError, match="tone"):
        Cue("fanfare")
