"""What every source hands the pipeline: camera frames or scanned text, behind one small interface.

A source has `name`, `live`, `open()`, `read()` and `close()`. `read()` blocks until the next item and
returns a `Frame` (camera, files, synthetic scenes: pixels to decode) or a `ScannedText` (a hardware
scanner already decoded the QR), or None once a finite source has ended. Items carry the monotonic time
they were captured, so the pipeline can report capture-to-decision latency.

A source that cannot be opened or stops delivering raises `SourceError`, an environment failure: the
pipeline reports it, closes the source and opens it again until it comes back. No source retries on its
own, so the retry policy lives in one place.

`live` tells the pipeline whether items keep coming in real time (camera, scanner, paced replay: an old
frame is worth nothing once a newer one exists) or are a list to work through (a folder of images: none
may be skipped).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeGuard

if TYPE_CHECKING:
    import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm")


@dataclass(frozen=True)
class Frame:
    """One captured image: grayscale (the Y plane) or BGR, with its monotonic capture time."""

    image: np.ndarray
    timestamp: float
    index: int
    origin: str = ""  # e.g. the file a frame came from
    # A still photo rather than one of a stream: worth every decoding pass, as nothing follows it.
    still: bool = False


class FrameSource(Protocol):
    name: str
    live: bool

    def open(self) -> None: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class Pacer:
    """Hands out frames at a fixed rate; `stop()` wakes a waiting `wait()` at once."""

    def __init__(self, fps: float | None):
        self.interval = 1.0 / fps if fps else 0.0
        self._next = 0.0
        self._stop = threading.Event()

    def reset(self) -> None:
        self._stop.clear()
        self._next = time.monotonic()

    def wait(self) -> bool:
        """False when stopped."""
        if self.interval:
            delay = self._next - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return False
            # A late consumer does not earn a burst of catch-up frames.
            self._next = max(self._next + self.interval, time.monotonic())
        return not self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()


@dataclass(frozen=True)
class ScannedText:
    """A payload received as text from a hardware scanner, with its monotonic arrival time."""

    text: str
    timestamp: float
    origin: str


class TextSource(Protocol):
    """A hardware scanner: like a frame source, but `read()` gives the decoded text (see `gives_text`)."""

    name: str
    live: bool

    def open(self) -> None: ...

    def read(self) -> ScannedText | None: ...

    def close(self) -> None: ...


Source = FrameSource | TextSource


def gives_text(source: Source) -> TypeGuard[TextSource]:
    """Whether a source is a hardware scanner (its class says `scanned_text = True`) rather than frames.

    Told before the first item arrives, so a scanner that stays idle is never mistaken for a frozen camera.
    """
    return bool(getattr(source, "scanned_text", False))


def gives_frames(source: Source) -> TypeGuard[FrameSource]:
    """A camera, files or a synthetic scene: every source but the hardware scanners."""
    return not gives_text(source)
