"""Family grouping: which decisions share one screen. One code, one decision, one screen, unless on purpose.

A decision joins the group on screen only when

* it came from the same camera frame as the previous one (several codes held up together), or
* the guard holds the family key (or button) and it follows the previous decision within
  `display.family_window` seconds (a parent showing the children's codes one after another).

A stream of different codes never groups, however close together they come.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.policy import Decision

# The outcome logged for a member whose own decision admits, held back because another member of the same
# frame's family is refused: the turnstile stays shut for the whole group.
GROUP_REFUSED = "group_refused"


def held_with_group(decision: Decision) -> Decision:
    """A member's decision as logged when its family is refused: not admitted, outcome `GROUP_REFUSED` (the
    code's own verdict and status stay in the row), so neither this gate after a restart nor the site's
    other gates take the person as admitted."""
    from scanner.policy import Tone

    return dataclasses.replace(decision, admit=False, tone=Tone.STOP, outcome=GROUP_REFUSED)


@dataclass(frozen=True)
class _Last:
    group: int
    source: str
    frame_timestamp: float
    at: float  # monotonic
    family: bool  # placed while the family key was held


class FamilyGrouper:
    """Hands each decision a group id; equal ids share a screen. Thread-safe."""

    def __init__(self, window_s: float = 2.0, *, monotonic: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self._mono = monotonic
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._last: _Last | None = None
        self.held = False

    def set_held(self, held: bool) -> None:
        with self._lock:
            self.held = held

    def place(self, *, source: str, frame_timestamp: float, codes_in_frame: int) -> int:
        now = self._mono()
        with self._lock:
            last = self._last
            same_frame = (last is not None and codes_in_frame > 1 and last.source == source
                          and last.frame_timestamp == frame_timestamp)
            family = (last is not None and self.held and last.family and now - last.at <= self.window_s)
            group = last.group if last is not None and (same_frame or family) else next(self._ids)
            self._last = _Last(group, source, frame_timestamp, now, self.held)
            return group
