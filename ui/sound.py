"""Sound feedback through one small interface: `play(kind)`, volume and mute.

Kinds are `pass`, `stop` and `alert` (WAVs in `ui/sounds/`, made by `scripts/make_sounds.py`). The
kiosk gets a `Sound` object; tests pass `RecordingSound` and never touch an audio device. Real output
uses Qt's `QSoundEffect` when QtMultimedia loads, else `aplay` from alsa-utils, else stays silent with
one logged warning (a kiosk without a speaker still works).
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

KINDS = ("pass", "stop", "alert")


def sound_path(kind: str) -> Path:
    return Path(__file__).resolve().parent / "sounds" / f"{kind}.wav"


class Sound(Protocol):
    volume: float
    muted: bool

    def play(self, kind: str) -> None: ...

    def set_volume(self, volume: float) -> None: ...

    def set_muted(self, muted: bool) -> None: ...


class RecordingSound:
    """Plays nothing and remembers what it was asked to play (tests, offscreen demo)."""

    def __init__(self, volume: float = 0.8, muted: bool = False):
        self.volume = volume
        self.muted = muted
        self.played: list[str] = []

    def play(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown sound {kind!r}")
        if not self.muted and self.volume > 0:
            self.played.append(kind)

    def set_volume(self, volume: float) -> None:
        self.volume = min(1.0, max(0.0, volume))

    def set_muted(self, muted: bool) -> None:
        self.muted = muted


class AplaySound(RecordingSound):
    """Pipes the WAV, scaled to the volume, to `aplay` (no Python audio binding needed)."""

    def __init__(self, aplay: str, volume: float = 0.8, muted: bool = False):
        super().__init__(volume, muted)
        self.aplay = aplay
        self._proc: subprocess.Popen[bytes] | None = None

    def _scaled(self, kind: str) -> bytes:
        import numpy as np

        with wave.open(str(sound_path(kind)), "rb") as w:
            params = w.getparams()
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setparams(params)
            w.writeframes((samples * self.volume).astype("<i2").tobytes())
        return out.getvalue()

    def play(self, kind: str) -> None:
        super().play(kind)
        if self.muted or self.volume <= 0:
            return
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()  # a new decision cuts the previous tone short
        try:
            self._proc = subprocess.Popen([self.aplay, "-q", "-"], stdin=subprocess.PIPE,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert self._proc.stdin is not None
            self._proc.stdin.write(self._scaled(kind))
            self._proc.stdin.close()
        except OSError as e:
            log.warning("sound failed kind=%s error=%s", kind, e)


class QtSound(RecordingSound):
    """QSoundEffect per kind; created on the GUI thread."""

    def __init__(self, volume: float = 0.8, muted: bool = False):
        super().__init__(volume, muted)
        from PySide6.QtCore import QUrl
        from PySide6.QtMultimedia import QSoundEffect

        self._effects: dict[str, Any] = {}
        for kind in KINDS:
            e = QSoundEffect()
            e.setSource(QUrl.fromLocalFile(str(sound_path(kind))))
            self._effects[kind] = e
        self._apply()

    def _apply(self) -> None:
        for e in self._effects.values():
            e.setVolume(self.volume)
            e.setMuted(self.muted)

    def play(self, kind: str) -> None:
        super().play(kind)
        self._effects[kind].play()

    def set_volume(self, volume: float) -> None:
        super().set_volume(volume)
        self._apply()

    def set_muted(self, muted: bool) -> None:
        super().set_muted(muted)
        self._apply()


def system_sound(volume: float, muted: bool) -> RecordingSound:
    """The best real output this machine has; silent (with a warning) when there is none."""
    try:
        return QtSound(volume, muted)
    except ImportError as e:
        log.info("QtMultimedia unavailable (%s); trying aplay", e)
    aplay = shutil.which("aplay")
    if aplay:
        return AplaySound(aplay, volume, muted)
    log.warning("no audio output found (QtMultimedia and aplay both missing): sounds are off")
    return RecordingSound(volume, muted)
