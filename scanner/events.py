"""What the scanning pipeline (`scanner.pipeline`) reports to its listener: a decision, a repeat, a source's
health, an error. The session, the kiosk, the gate and `checkpoint scan` read these without running a pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.policy import Decision
    from scanner.qr.decoder import Polygon


@dataclass(frozen=True)
class DecisionEvent:
    """A code was decided. Times: `frame_timestamp` and `decided_at` are monotonic seconds."""

    decision: Decision
    payload: str
    data: bytes
    source: str
    frame_timestamp: float
    decided_at: float
    decode_ms: float  # 0 for scanned text
    decision_ms: float
    codes_in_frame: int
    polygon: Polygon | None = None
    # The decisions from one frame are emitted one after another once all are made: this is decision
    # `member` (from 0) of `members`, so a family's turnstile can wait for the group's verdict.
    member: int = 0
    members: int = 1

    @property
    def latency_ms(self) -> float:
        """Capture to decision: what the person at the gate waits for, past the camera itself."""
        return (self.decided_at - self.frame_timestamp) * 1000


@dataclass(frozen=True)
class RepeatEvent:
    """The same code again within the debounce window: not decided again (`Session.handle_repeat`)."""

    payload: str
    source: str
    at: float  # monotonic
    seconds_since: float  # since it was last seen


@dataclass(frozen=True)
class SourceEvent:
    """A source's health changed: "disconnected" (the UI shows it), "reconnected", or "ended"."""

    kind: str
    source: str
    message: str
    at: float
    # "ended" on bad input (a missing file, a folder without a readable image): nothing was there to read.
    bad_input: bool = False


@dataclass(frozen=True)
class ErrorEvent:
    """Decoding or checking failed with an exception (a bug or bad data); the pipeline goes on."""

    stage: str
    message: str
    at: float


PipelineEvent = DecisionEvent | RepeatEvent | SourceEvent | ErrorEvent
