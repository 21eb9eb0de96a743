#!/usr/bin/env python3
"""Generate the tones (`scanner/sound/tones/*.wav`): small, distinct, 16-bit mono 16 kHz.

pass:  one bright rising two-note chime (short, friendly);
stop:  two low descending tones;
alert: a harsh alternating siren burst, repeated by the kiosk until the guard acknowledges;
check: two level mid tones: "the guard checks this one by hand";
repeat: two very short high blips: "this code was just checked", never mistaken for a decision.
Run `python scripts/make_sounds.py` after changing them; the files are committed.
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np

RATE = 16000


def tone(freq: float, seconds: float, *, square: bool = False, amp: float = 0.6) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    wave_ = np.sin(2 * np.pi * freq * t)
    if square:
        wave_ = np.sign(wave_) * 0.7 + 0.3 * wave_
    # 8 ms fades so no note clicks.
    env = np.ones_like(t)
    n = min(len(t) // 2, int(0.008 * RATE))
    env[:n] = np.linspace(0, 1, n)
    env[-n:] = np.linspace(1, 0, n)
    return amp * wave_ * env


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds))


SOUNDS = {
    "pass": lambda: np.concatenate([tone(880, 0.09), tone(1320, 0.16)]),
    "stop": lambda: np.concatenate([tone(440, 0.18), silence(0.05), tone(330, 0.28)]),
    "alert": lambda: np.concatenate([np.concatenate([tone(1000, 0.12, square=True, amp=0.5),
                                                     tone(700, 0.12, square=True, amp=0.5)])
                                     for _ in range(3)]),
    "check": lambda: np.concatenate([tone(660, 0.12), silence(0.06), tone(660, 0.12)]),
    "repeat": lambda: np.concatenate([tone(1760, 0.05, amp=0.45), silence(0.04), tone(1760, 0.05, amp=0.45)]),
}


def write(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "scanner" / "sound" / "tones"
    out.mkdir(parents=True, exist_ok=True)
    for name, make in SOUNDS.items():
        write(out / f"{name}.wav", make())
        print(out / f"{name}.wav")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
