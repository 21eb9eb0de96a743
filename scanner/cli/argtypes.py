"""argparse types for the numbers a person types on the command line: durations, rates, seconds, ports, counts.

A bad one is refused while the arguments are read (usage, then `checkpoint CMD: error: argument OPTION:
'TEXT' is not …`, exit 2), before anything starts. `float()` reads `nan` and `inf`, which pass or break every
comparison made with them, so each type here checks for a finite value itself.
"""

from __future__ import annotations

import argparse
import math

# The longest run a `--duration` bounds: longer is a typo, and Qt's timers hold at most 24.8 days.
MAX_DURATION = 7 * 86400


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _decimal(text: str) -> bool:
    # ASCII digits only: str.isdigit() is also true of "²", which int() refuses.
    return text.isascii() and text.isdigit()


def _above_zero(text: str, top: float, what: str) -> float:
    """A finite number above 0 and at most `top` (`what` says so in the refusal's words)."""
    value = _number(text)
    if not 0 < value <= top:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of {what}")
    return value


def duration(text: str) -> float:
    """A run's length: finite seconds above 0, at most `MAX_DURATION`."""
    return _above_zero(text, MAX_DURATION, f"seconds above 0 and at most {MAX_DURATION} (a week)")


# The fastest replay `--fps` paces: more than any camera gives.
MAX_FPS = 1000


def frame_rate(text: str) -> float:
    """Frames per second: finite, above 0, at most `MAX_FPS`."""
    return _above_zero(text, MAX_FPS, f"frames per second above 0 and at most {MAX_FPS}")


def seconds(text: str) -> float:
    """A finite number of seconds, 0 or more."""
    value = _number(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds, 0 or more")
    return value


def port(text: str) -> int:
    """A TCP port, 0 (pick a free one) to 65535."""
    if not _decimal(text) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port, 0 to 65535")
    return int(text)


def count(text: str) -> int:
    """A whole number, 1 or more."""
    if not _decimal(text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 1 or more")
    return int(text)
