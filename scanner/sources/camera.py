"""Cameras: the Raspberry Pi camera (Picamera2, imported lazily: Raspberry Pi OS only) and USB/V4L2
cameras through OpenCV. Both raise `SourceError` when the camera cannot be opened or stops delivering.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from scanner.errors import InputError, SourceError
from scanner.sources.base import Frame

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


class Capture(Protocol):
    """What the sources use of a `cv2.VideoCapture` (tests pass a fake)."""

    def isOpened(self) -> bool: ...

    def set(self, prop_id: int, value: float, /) -> bool: ...

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...


class PiCamera(Protocol):
    """What `Picamera2Source` uses of a `picamera2.Picamera2` (tests pass a fake)."""

    def create_video_configuration(self, **settings: object) -> object: ...

    def configure(self, config: object) -> None: ...

    def start(self) -> None: ...

    def capture_array(self, stream: str) -> np.ndarray: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


class OpenCVSource:
    """A USB/V4L2 camera through OpenCV: a device index (`camera:0`) or a device path.

    `capture_factory` builds the capture object (default `cv2.VideoCapture`); tests inject a fake one
    to exercise unplugging.
    """

    live = True

    def __init__(self, device: int | str, *, width: int = 640, height: int = 480, fps: int = 30,
                 capture_factory: Callable[[int | str], Capture] | None = None):
        self.device = device
        self.name = f"camera:{device}" if isinstance(device, int) else f"v4l2:{device}"
        self.width, self.height, self.fps = width, height, fps
        self._factory = capture_factory
        self._cap: Capture | None = None
        self._index = 0

    def open(self) -> None:
        import cv2

        cap: Capture
        if self._factory is not None:
            cap = self._factory(self.device)
        else:
            # OpenCV warns on stderr at every failed open; the pipeline reports it once, in words.
            with contextlib.suppress(AttributeError):
                cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
            cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"camera {self.device} could not be opened (not connected, or in use)")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        # A deep driver queue would hand us frames from the past; one buffer keeps them fresh.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError(f"camera {self.device} is not open")
        ok, image = self._cap.read()
        if not ok or image is None:
            self.close()
            raise SourceError(f"camera {self.device} stopped delivering frames (disconnected?)")
        self._index += 1
        return Frame(image, time.monotonic(), self._index, self.name)

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


class Picamera2Source:
    """The Raspberry Pi camera through Picamera2 (Raspberry Pi OS only).

    The default format, YUV420, hands the decoder the Y plane directly: it wants luminance, and no
    colour conversion is cheaper than any. "RGB888" (pixels in B, G, R order, as OpenCV expects) and
    "XRGB8888" give colour frames, for a preview that needs them.
    """

    live = True
    name = "picamera"
    FORMATS = ("YUV420", "RGB888", "XRGB8888")

    def __init__(self, *, width: int = 640, height: int = 480, fps: int = 30, format: str = "YUV420",
                 camera_factory: Callable[[], PiCamera] | None = None):
        if format not in self.FORMATS:
            raise InputError(f"picamera format {format!r} is not one of {', '.join(self.FORMATS)}")
        self.width, self.height, self.fps, self.format = width, height, fps, format
        self._factory = camera_factory
        self._cam: PiCamera | None = None
        self._index = 0

    def open(self) -> None:
        factory = self._factory
        if factory is None:
            try:
                from picamera2 import Picamera2
            except ImportError:
                raise SourceError("the picamera source needs Picamera2 (Raspberry Pi OS: "
                                  "apt install python3-picamera2); it is not installed") from None
            factory = Picamera2
        try:
            cam = factory()
            config = cam.create_video_configuration(
                main={"size": (self.width, self.height), "format": self.format},
                controls={"FrameRate": float(self.fps)}, buffer_count=2)
            cam.configure(config)
            cam.start()
        except SourceError:
            raise
        except Exception as e:  # libcamera reports a missing camera in many ways
            raise SourceError(f"the Pi camera could not be started: {e}") from None
        self._cam = cam

    def read(self) -> Frame | None:
        if self._cam is None:
            raise SourceError("the Pi camera is not open")
        try:
            array = self._cam.capture_array("main")
        except Exception as e:
            self.close()
            raise SourceError(f"the Pi camera stopped delivering frames: {e}") from None
        # YUV420 arrives as (height * 3/2, stride): the first `height` rows are the Y plane.
        # The colour formats may be padded too, and XRGB8888 carries a fourth byte.
        rows = array[: self.height, : self.width]
        image = rows if self.format == "YUV420" else rows[:, :, :3]
        self._index += 1
        return Frame(image, time.monotonic(), self._index, self.name)

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            try:
                cam.stop()
                cam.close()
            except Exception as e:
                log.warning("closing the Pi camera failed: %s", e)
