"""The shipped sounds and the screenshot script: what the repository holds is what the scripts make."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

from PySide6.QtGui import QImage

from tests.helpers import REPO
from ui.sound import KINDS, RecordingSound, sound_path


def test_sounds_are_small_distinct_wavs_made_by_the_script(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_sounds.py"), str(tmp_path)], check=True,
                   capture_output=True, timeout=60)
    seen = set()
    for kind in KINDS:
        shipped = sound_path(kind)
        assert shipped.read_bytes() == (tmp_path / f"{kind}.wav").read_bytes(), f"regenerate {kind}.wav"
        with wave.open(str(shipped)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
            assert 0.1 < w.getnframes() / w.getframerate() < 1.0
            seen.add(w.readframes(w.getnframes()))
    assert len(seen) == len(KINDS)


def test_recording_sound_volume_and_mute() -> None:
    s = RecordingSound(volume=0.5)
    s.play("pass")
    s.set_volume(0.0)
    s.play("stop")
    s.set_volume(2.0)
    assert s.volume == 1.0
    s.set_muted(True)
    s.play("alert")
    assert s.played == ["pass"]


def test_screenshot_script_writes_every_screen(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "screenshots.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    names = {p.stem for p in tmp_path.glob("*.png")}
    assert {"idle", "green", "yellow", "red", "invalid", "guardian", "printed-card", "family", "stale-data",
            "admin"} <= names
    img = QImage(str(tmp_path / "green.png"))
    assert (img.width(), img.height()) == (800, 480)
    assert img.pixelColor(4, 4).name() == "#1b7a3a"


def test_demo_table_still_prints_the_decision_table(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "scanner.cli", "demo", "--table", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "sample" in proc.stdout and "forged" in proc.stdout and "DENY" in proc.stdout
