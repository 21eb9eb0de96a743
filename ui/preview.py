"""The camera preview: each camera source wrapped so that a few frames a second also reach the window.

The tap runs on the pipeline's reader thread; `on_image` (the kiosk's `preview` signal) carries each
`QImage` to the GUI thread. The frames the pipeline decodes pass through untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QImage

if TYPE_CHECKING:
    import numpy as np

    from scanner.sources.base import Frame, FrameSource


# Enough for the guard to aim a code; each image is a copy made on the reader thread.
PREVIEW_FPS = 10.0


def to_qimage(image: np.ndarray) -> QImage:
    """A grayscale or BGR numpy frame as a QImage that owns its pixels."""
    h, w = image.shape[:2]
    if image.ndim == 2:
        return QImage(image.data, w, h, image.strides[0], QImage.Format.Format_Grayscale8).copy()
    return QImage(image.data, w, h, image.strides[0], QImage.Format.Format_BGR888).copy()


class PreviewTap:
    """Wraps a frame source: frames pass through untouched, a few per second also go to `on_image`."""

    def __init__(self, source: FrameSource, on_image: Callable[[QImage], None], fps: float = PREVIEW_FPS):
        self.source = source
        self.name = source.name
        self.live = source.live
        self._on_image = on_image
        self._every = 1.0 / fps
        self._last = 0.0

    def open(self) -> None:
        self.source.open()

    def close(self) -> None:
        self.source.close()

    def read(self) -> Frame | None:
        item = self.source.read()
        image = item.image if item is not None else None
        if image is not None and time.monotonic() - self._last >= self._every:
            self._last = time.monotonic()
            self._on_image(to_qimage(image))
        return item
