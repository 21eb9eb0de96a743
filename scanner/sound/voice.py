"""Cue files: a tone and spoken words in one WAV, synthesised offline by espeak-ng once and cached.

Every cue the appliance can play is one 16-bit mono 16 kHz WAV, so any player (QtMultimedia, aplay)
plays it with one call and nothing has to be sequenced. Files live in the data directory's `voice/`
folder, named by a hash of everything that shapes them (tone, words, mode, language, voices), so new
words from the hub or the config make new files and never play stale ones. `prepare` builds the cues
of a profile ahead of time (at install, at start-up in the background); a cue not built yet plays its
tone alone rather than making anyone wait for the synthesiser.
"""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
import subprocess
import wave
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from keys.durable import atomic_write
from scanner.policy import VenueProfile
from scanner.sound.prompts import LANGUAGES, MODES, PROMPTS, Cue, profile_cues, prompt_cue

log = logging.getLogger(__name__)

RATE = 16000
# espeak-ng voice per language, and a speaking rate a passer-by follows (words per minute).
VOICES = {"zh": "cmn", "en": "en-gb"}
SPEED = 150
GAP_S = 0.08
SYNTH_TIMEOUT_S = 20.0
FORMAT_VERSION = "1"


class VoiceError(RuntimeError):
    """The synthesiser is missing or failed (the appliance falls back to tones)."""


@cache
def tone_path(tone: str) -> Path:
    return Path(str(resources.files("scanner.sound").joinpath("tones", f"{tone}.wav")))


def read_wav(data: bytes | Path) -> np.ndarray:
    """Mono float samples at `RATE` from a 16-bit WAV (file or bytes), resampled when needed."""
    src = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    with wave.open(src, "rb") as w:
        if w.getsampwidth() != 2:
            raise VoiceError(f"expected 16-bit samples, got {8 * w.getsampwidth()}-bit")
        rate, channels = w.getframerate(), w.getnchannels()
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        raw = raw.reshape(-1, channels).mean(axis=1)
    if rate != RATE and len(raw):
        n = round(len(raw) * RATE / rate)
        raw = np.interp(np.linspace(0, len(raw) - 1, n), np.arange(len(raw)), raw).astype(np.float32)
    return raw


def wav_bytes(samples: np.ndarray, volume: float = 1.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(samples * volume, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def find_espeak() -> str | None:
    return shutil.which("espeak-ng")


def synthesize(espeak: str, language: str, text: str) -> np.ndarray:
    """Speech for `text` in `language` ("zh" or "en"), as samples at `RATE`."""
    try:
        proc = subprocess.run([espeak, "-v", VOICES[language], "-s", str(SPEED), "--stdout", text],
                              capture_output=True, timeout=SYNTH_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise VoiceError(f"espeak-ng failed: {e}") from e
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode(errors="replace").strip()
        raise VoiceError(f"espeak-ng exited {proc.returncode}: {msg or 'no audio'}")
    try:
        return read_wav(proc.stdout)
    except (wave.Error, EOFError) as e:
        raise VoiceError(f"espeak-ng wrote no valid WAV: {e}") from e


class CueCache:
    """Cue files for one mode and language in a folder (the data directory's `voice/`)."""

    def __init__(self, root: Path, *, mode: str = "both", language: str = "both", espeak: str | None = None):
        if mode not in MODES:
            raise ValueError(f"sound mode {mode!r} is not one of {', '.join(MODES)}")
        if language not in LANGUAGES:
            raise ValueError(f"sound language {language!r} is not one of {', '.join(LANGUAGES)}")
        self.root = root
        self.mode = mode
        self.language = language
        self.espeak = espeak
        self.problem: str | None = None if espeak or mode == "tones" else "espeak-ng not found: tones only"

    def languages(self) -> tuple[str, ...]:
        return ("zh", "en") if self.language == "both" else (self.language,)

    def speaks(self, cue: Cue) -> bool:
        return self.mode != "tones" and cue.speech is not None

    def path_of(self, cue: Cue) -> Path:
        """Where the cue's file is (or will be)."""
        if not self.speaks(cue):
            return tone_path(cue.tone)
        assert cue.speech is not None
        words = [getattr(cue.speech, lang) for lang in self.languages()]
        h = hashlib.sha256("\x1f".join([FORMAT_VERSION, self.mode, cue.tone, *self.languages(), *words,
                                        *(VOICES[lang] for lang in self.languages()), str(SPEED)])
                           .encode()).hexdigest()[:20]
        return self.root / f"{cue.tone}-{h}.wav"

    def ready(self, cue: Cue) -> Path:
        """The file to play now: the full cue when built, else the tone alone (never waits)."""
        path = self.path_of(cue)
        return path if path.exists() else tone_path(cue.tone)

    def build(self, cue: Cue) -> Path:
        """Synthesise the cue's file if it is missing. Raises `VoiceError` when espeak-ng fails."""
        path = self.path_of(cue)
        if path.exists():
            return path
        if self.espeak is None:
            raise VoiceError("espeak-ng not found")
        assert cue.speech is not None
        parts: list[np.ndarray] = []
        if self.mode == "both":
            parts += [read_wav(tone_path(cue.tone)), np.zeros(int(RATE * GAP_S), np.float32)]
        for i, lang in enumerate(self.languages()):
            if i:
                parts.append(np.zeros(int(RATE * GAP_S * 2), np.float32))
            parts.append(synthesize(self.espeak, lang, getattr(cue.speech, lang)))
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(path, wav_bytes(np.concatenate(parts)))
        return path

    def prepare(self, cues: list[Cue]) -> list[Path]:
        """Build every cue that speaks; a failure is remembered in `problem` and logged once."""
        built = []
        for cue in cues:
            if not self.speaks(cue):
                continue
            try:
                built.append(self.build(cue))
            except (VoiceError, OSError) as e:
                if self.problem is None:
                    log.warning("voice prompts unavailable, playing tones only: %s", e)
                self.problem = f"voice prompts unavailable: {e}"
                return built
        return built


def appliance_cues(profile: VenueProfile) -> list[Cue]:
    """Everything a device running `profile` may say: each outcome and the fixed prompts."""
    return [*profile_cues(profile).values(), *(prompt_cue(name) for name in PROMPTS)]
