"""Clocks the core is given: it never reads the time itself, so every decision is reproducible.

A `Clock` says what time it is and whether that time can be trusted. A device without a real-time
clock that booted offline can be years off; decisions made on an untrusted clock become "check manually".
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Unix seconds."""
        ...

    def trusted(self) -> bool:
        """False while the device time is known or suspected to be wrong."""
        ...


class SystemClock:
    """The system time, always taken as trusted (for tools and tests; the kiosk uses trusted time)."""

    def now(self) -> float:
        return time.time()

    def trusted(self) -> bool:
        return True


class FixedClock:
    """A clock that says what it is told: for `checkpoint check --at`, tests and benchmarks."""

    def __init__(self, at: float, *, trusted: bool = True):
        self.at = float(at)
        self._trusted = trusted

    def now(self) -> float:
        return self.at

    def trusted(self) -> bool:
        return self._trusted

    def advance(self, seconds: float) -> None:
        self.at += seconds
