"""Playing cues, and knowing when nothing can be heard. No Qt.

`Announcer` is what the kiosk and the headless gate call: `play(tone, speech)` picks the cue file
(`scanner.sound.voice.CueCache`) and hands it to a `Player`. Players: `AplayPlayer` (alsa-utils'
`aplay`, probed at start and watched after every play), `SilentPlayer` (no output at all) and
`RecordingPlayer` (tests); the kiosk adds one on QtMultimedia. A player that cannot be heard says so in
`problem`, which the status bar and the appliance health report show: sound never fails silently.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from keys.localtext import LocalText
from scanner.config import SoundSettings
from scanner.sound.prompts import Cue, spoken
from scanner.sound.voice import RATE, CueCache, find_espeak, read_wav, wav_bytes

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5.0
SILENCE = wav_bytes(np.zeros(int(RATE * 0.02), np.float32))


class Player(Protocol):
    name: str

    @property
    def problem(self) -> str | None: ...

    def play(self, path: Path, volume: float) -> None: ...


class RecordingPlayer:
    """Plays nothing and remembers which files it was given (tests)."""

    name = "recording"

    def __init__(self, problem: str | None = None):
        self.problem = problem
        self.files: list[Path] = []

    def play(self, path: Path, volume: float) -> None:
        self.files.append(path)


class SilentPlayer(RecordingPlayer):
    """No audio output works: every play is dropped, and `problem` says why."""

    name = "none"

    def __init__(self, problem: str):
        super().__init__(problem)


@lru_cache(maxsize=64)
def _scaled(path: Path, mtime: float, volume: float) -> bytes:
    return wav_bytes(read_wav(path), volume)


class AplayPlayer:
    """Pipes each cue, scaled to the volume, to `aplay` (optionally on an ALSA `device`)."""

    name = "aplay"

    def __init__(self, aplay: str, device: str = ""):
        self.command = [aplay, "-q", *(["-D", device] if device else []), "-"]
        self._proc: subprocess.Popen[bytes] | None = None
        self._feeder: threading.Thread | None = None
        self._lock = threading.Lock()
        self.problem: str | None = None

    def probe(self) -> str | None:
        """Play 20 ms of silence; the problem in words when that fails (no card, busy device)."""
        try:
            proc = subprocess.run(self.command, input=SILENCE,
                                  capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.problem = f"aplay failed: {e}"
            return self.problem
        self.problem = None if proc.returncode == 0 else _aplay_error(proc.returncode, proc.stderr)
        return self.problem

    def play(self, path: Path, volume: float) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()  # a new cue cuts the previous one short
            try:
                data = _scaled(path, path.stat().st_mtime, round(volume, 2))
                proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
            except OSError as e:
                self._failed(f"aplay failed: {e}")
                return
            self._proc = proc
            self._feeder = threading.Thread(target=self._feed, args=(proc, data), name="aplay", daemon=True)
            self._feeder.start()

    def wait(self, timeout: float = 30.0) -> None:
        """Until the current cue has played and its outcome is known (tests, shutdown)."""
        if self._feeder is not None:
            self._feeder.join(timeout)

    def _feed(self, proc: subprocess.Popen[bytes], data: bytes) -> None:
        try:
            _, err = proc.communicate(data, timeout=60)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            proc.kill()
            return
        if proc.returncode < 0:
            return  # killed by the next cue: not a failure of the output
        if proc.returncode:
            self._failed(_aplay_error(proc.returncode, err))
        elif self.problem is not None:
            log.info("audio output works again")
            self.problem = None

    def _failed(self, problem: str) -> None:
        if problem != self.problem:
            log.warning("audio output failed: %s", problem)
        self.problem = problem


def _aplay_error(code: int, stderr: bytes) -> str:
    lines = [ln for ln in stderr.decode(errors="replace").splitlines() if ln.startswith("aplay")]
    return f"aplay exited {code}: {(lines or ['no output device'])[-1]}"


class Announcer:
    """Tones and words for the appliance: volume, mute, the cue cache and one player."""

    def __init__(self, cues: CueCache, player: Player, *, volume: float = 0.8, muted: bool = False):
        self.cues = cues
        self.player = player
        self.volume = min(1.0, max(0.0, volume))
        self.muted = muted
        self.played: list[str] = []  # the tones asked for, in order (tests, the demo's report)
        self.said: list[LocalText] = []
        self._building: set[Path] = set()
        self._lock = threading.Lock()

    @property
    def output(self) -> str:
        return self.player.name

    @property
    def problem(self) -> str | None:
        """Why nothing (or only tones) can be heard; None when sound works as configured."""
        return self.player.problem or self.cues.problem

    @property
    def silent(self) -> bool:
        """True when no audio output works at all."""
        return self.player.problem is not None

    def play(self, tone: str, speech: LocalText | None = None) -> None:
        """Play `tone`, then say `speech` (screen words: a headline is said as `prompts.spoken` has it)."""
        cue = Cue(tone, spoken(speech) if speech is not None else None)
        if self.muted or self.volume <= 0:
            return
        self.played.append(tone)
        if cue.speech is not None and self.cues.speaks(cue):
            self.said.append(cue.speech)
        path = self.cues.ready(cue)
        if self.cues.speaks(cue) and path != self.cues.path_of(cue):
            self.prepare_in_background([cue])
        self.player.play(path, self.volume)

    def set_volume(self, volume: float) -> None:
        self.volume = min(1.0, max(0.0, volume))

    def set_muted(self, muted: bool) -> None:
        self.muted = muted

    def prepare_in_background(self, cues: list[Cue]) -> threading.Thread | None:
        """Synthesise missing cue files on a thread of their own; the next play of each speaks."""
        with self._lock:
            todo = [c for c in cues if self.cues.speaks(c) and not self.cues.path_of(c).exists()
                    and self.cues.path_of(c) not in self._building]
            self._building.update(self.cues.path_of(c) for c in todo)
        if not todo or self.cues.espeak is None:
            return None

        def run() -> None:
            try:
                self.cues.prepare(todo)
            finally:
                with self._lock:
                    self._building.difference_update(self.cues.path_of(c) for c in todo)

        t = threading.Thread(target=run, name="voice-prepare", daemon=True)
        t.start()
        return t


def system_player(device: str = "") -> Player:
    """aplay, probed once; when the probe fails it keeps trying on each play and recovers by itself."""
    aplay = shutil.which("aplay")
    if aplay is None:
        return SilentPlayer("no audio output: aplay (alsa-utils) is not installed")
    player = AplayPlayer(aplay, device)
    if problem := player.probe():
        log.warning("no audio output: %s", problem)
    return player


def open_announcer(settings: SoundSettings, voice_dir: Path, *, player: Player | None = None,
                   volume: float | None = None, muted: bool | None = None) -> Announcer:
    """The announcer the `[sound]` settings describe (volume and mute may come from the kiosk's prefs)."""
    cues = CueCache(voice_dir, mode=settings.mode, language=settings.language,
                    espeak=find_espeak() if settings.mode != "tones" else None)
    return Announcer(cues, player if player is not None else system_player(settings.aplay_device),
                     volume=settings.volume if volume is None else volume,
                     muted=(not settings.enabled) if muted is None else muted)
