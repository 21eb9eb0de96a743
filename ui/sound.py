"""The kiosk's sound: the core's `Announcer` (tones and spoken prompts) on QtMultimedia, else aplay.

The kiosk gets an `Announcer` (`scanner.sound.player`): `play(tone, speech)`, volume, mute, and
`problem` when nothing can be heard, which the status bar shows. Output is Qt's `QSoundEffect` when
QtMultimedia loads and the system has an audio output, else `aplay` (alsa-utils), else none, said on
screen. Tests pass `RecordingSound` and never touch an audio device.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from keys.localtext import LocalText
from scanner.config import SoundSettings
from scanner.sound.player import Announcer, Player, RecordingPlayer, open_announcer, system_player
from scanner.sound.prompts import TONES, spoken
from scanner.sound.voice import CueCache, tone_path

if TYPE_CHECKING:
    from PySide6.QtMultimedia import QSoundEffect

log = logging.getLogger(__name__)

KINDS = TONES


def sound_path(kind: str) -> Path:
    return tone_path(kind)


class RecordingSound(Announcer):
    """Plays nothing and remembers what it was asked to play (tests, the offscreen demo)."""

    def __init__(self, volume: float = 0.8, muted: bool = False, *, problem: str | None = None):
        super().__init__(CueCache(Path("/nonexistent"), mode="tones"), RecordingPlayer(problem),
                         volume=volume, muted=muted)

    def play(self, tone: str, speech: LocalText | None = None) -> None:
        if tone not in KINDS:
            raise ValueError(f"unknown sound {tone!r}")
        if speech is not None and not self.muted and self.volume > 0:
            self.said.append(spoken(speech))
        super().play(tone, None)


class QtPlayer:
    """One `QSoundEffect` per cue file; created and played on the GUI thread."""

    name = "qt"

    def __init__(self) -> None:
        from PySide6.QtMultimedia import QMediaDevices

        self._devices = QMediaDevices()
        self._effects: dict[Path, QSoundEffect] = {}
        self.problem: str | None = None

    def play(self, path: Path, volume: float) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtMultimedia import QMediaDevices, QSoundEffect

        if not QMediaDevices.audioOutputs():
            self.problem = "no audio output device"
            return
        effect = self._effects.get(path)
        if effect is None:
            effect = QSoundEffect()
            effect.statusChanged.connect(lambda e=effect, p=path: self._status(e, p))
            effect.setSource(QUrl.fromLocalFile(str(path)))
            self._effects[path] = effect
        for other in self._effects.values():
            if other is not effect and other.isPlaying():
                other.stop()  # a new cue cuts the previous one short
        effect.setVolume(volume)
        effect.play()

    def _status(self, effect: QSoundEffect, path: Path) -> None:
        from PySide6.QtMultimedia import QSoundEffect

        if effect.status() == QSoundEffect.Status.Error:
            self.problem = f"QtMultimedia cannot play {path.name}"
            log.warning("audio output failed: %s", self.problem)
        elif effect.status() == QSoundEffect.Status.Ready:
            self.problem = None


def qt_player() -> Player | None:
    """QtMultimedia when it loads and lists an audio output; None otherwise (aplay is tried next)."""
    try:
        from PySide6.QtMultimedia import QMediaDevices
    except ImportError as e:
        log.info("QtMultimedia unavailable (%s); trying aplay", e)
        return None
    if not QMediaDevices.audioOutputs():
        log.info("QtMultimedia lists no audio output; trying aplay")
        return None
    return QtPlayer()


def system_sound(settings: SoundSettings, voice_dir: Path, *, volume: float | None = None,
                 muted: bool | None = None) -> Announcer:
    """The best real output this machine has; when there is none, `problem` says so on screen."""
    player = qt_player() or system_player(settings.aplay_device)
    return open_announcer(settings, voice_dir, player=player, volume=volume, muted=muted)
