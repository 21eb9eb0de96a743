"""Frame sources: the Pi camera, V4L2/USB cameras, image files and videos, synthetic gate scenes.

Every source has one small interface, `FrameSource`: `open()`, `read()` (blocks until the next frame;
None once a finite source has ended) and `close()`. A frame carries the monotonic time it was captured,
so the pipeline can report frame-to-decision latency.

A camera that cannot be opened or stops delivering raises `CameraError`, an environment failure: the
pipeline reports "camera disconnected", closes the source and opens it again until it comes back. No
source retries on its own, so the retry policy lives in one place.

`live` tells the pipeline whether frames keep coming in real time (camera, paced replay: an old frame
is worth nothing once a newer one exists) or are a list to work through (a folder of images: none may
be skipped).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from scanner.errors import CameraError, InputError

log = logging.getLogger(__name__)

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


class _Pacer:
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


class OpenCVSource:
    """A USB/V4L2 camera through OpenCV: a device index (`camera:0`) or a device path.

    `capture_factory` builds the capture object (default `cv2.VideoCapture`); tests inject a fake one
    to exercise unplugging.
    """

    live = True

    def __init__(self, device: int | str, *, width: int = 640, height: int = 480, fps: int = 30,
                 capture_factory: Callable[[int | str], Any] | None = None):
        self.device = device
        self.name = f"camera:{device}" if isinstance(device, int) else f"v4l2:{device}"
        self.width, self.height, self.fps = width, height, fps
        self._factory = capture_factory
        self._cap: Any = None
        self._index = 0

    def open(self) -> None:
        factory: Any = self._factory
        if factory is None:
            import cv2

            # OpenCV warns on stderr at every failed open; the pipeline reports it once, in words.
            with contextlib.suppress(AttributeError):
                cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
            factory = cv2.VideoCapture
        cap = factory(self.device)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"camera {self.device} could not be opened (not connected, or in use)")
        import cv2

        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        # A deep driver queue would hand us frames from the past; one buffer keeps them fresh.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap

    def read(self) -> Frame | None:
        if self._cap is None:
            raise CameraError(f"camera {self.device} is not open")
        ok, image = self._cap.read()
        if not ok or image is None:
            self.close()
            raise CameraError(f"camera {self.device} stopped delivering frames (disconnected?)")
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
                 camera_factory: Callable[[], Any] | None = None):
        if format not in self.FORMATS:
            raise InputError(f"picamera format {format!r} is not one of {', '.join(self.FORMATS)}")
        self.width, self.height, self.fps, self.format = width, height, fps, format
        self._factory = camera_factory
        self._cam: Any = None
        self._index = 0

    def open(self) -> None:
        factory = self._factory
        if factory is None:
            try:
                from picamera2 import Picamera2
            except ImportError:
                raise CameraError("the picamera source needs Picamera2 (Raspberry Pi OS: "
                                  "apt install python3-picamera2); it is not installed") from None
            factory = Picamera2
        try:
            cam = factory()
            config = cam.create_video_configuration(
                main={"size": (self.width, self.height), "format": self.format},
                controls={"FrameRate": float(self.fps)}, buffer_count=2)
            cam.configure(config)
            cam.start()
        except CameraError:
            raise
        except Exception as e:  # libcamera reports a missing camera in many ways
            raise CameraError(f"the Pi camera could not be started: {e}") from None
        self._cam = cam

    def read(self) -> Frame | None:
        if self._cam is None:
            raise CameraError("the Pi camera is not open")
        try:
            array = self._cam.capture_array("main")
        except Exception as e:
            self.close()
            raise CameraError(f"the Pi camera stopped delivering frames: {e}") from None
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


class FileSource:
    """Frames from an image, a folder of images (sorted by name) or a video file.

    `fps` paces the frames like a camera (the source is then `live`); without it frames come as fast
    as they are taken and none is skipped. `loop` starts over at the end.
    """

    def __init__(self, path: str | Path, *, kind: str = "auto", fps: float | None = None, loop: bool = False,
                 gray: bool = True):
        self.path = Path(path)
        if kind == "auto":
            kind = "dir" if self.path.is_dir() else (
                "image" if self.path.suffix.lower() in IMAGE_SUFFIXES else "video")
        if kind not in ("image", "dir", "video"):
            raise InputError(f"unknown file source kind {kind!r}")
        self.kind = kind
        self.name = f"{kind}:{path}"
        self.live = fps is not None
        self.loop = loop
        self.gray = gray
        self._pacer = _Pacer(fps)
        self._files: list[Path] = []
        self._pos = 0
        self._video: Any = None
        self._index = 0

    def open(self) -> None:
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file or folder")
        if self.kind == "dir":
            self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._files:
                raise InputError(f"{self.path}: no images in this folder")
        elif self.kind == "image":
            self._files = [self.path]
        else:
            self._open_video()
        self._pos = 0
        self._pacer.reset()

    def _open_video(self) -> None:
        import cv2

        video = cv2.VideoCapture(str(self.path))
        if not video.isOpened():
            video.release()
            raise InputError(f"{self.path}: not a video this build can read")
        self._video = video

    def read(self) -> Frame | None:
        while True:
            image, origin = self._next_image()
            if image is None:
                return None
            if not self._pacer.wait():
                return None
            self._index += 1
            still = self.kind != "video" and not self.live
            return Frame(image, time.monotonic(), self._index, origin, still)

    def _next_image(self) -> tuple[np.ndarray | None, str]:
        import cv2

        from scanner.qr.decoder import read_image

        if self.kind == "video":
            for _attempt in range(2):
                if self._video is None:
                    return None, ""
                ok, image = self._video.read()
                if ok and image is not None:
                    if self.gray:
                        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
                    return image, str(self.path)
                if not self.loop:
                    return None, ""
                self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
            raise InputError(f"{self.path}: the video holds no readable frame")
        skipped = 0
        while True:
            if self._pos >= len(self._files):
                if not self.loop:
                    return None, ""
                self._pos = 0
            path = self._files[self._pos]
            self._pos += 1
            try:
                return read_image(str(path)), str(path)
            except InputError as e:
                log.warning("skipping %s", e)
                skipped += 1
                if skipped >= len(self._files):
                    raise InputError(f"{self.path}: none of the images can be read") from None

    def close(self) -> None:
        self._pacer.stop()
        video, self._video = self._video, None
        if video is not None:
            video.release()


class SyntheticSource:
    """Rendered gate scenes for the demo and tests: each payload in turn is held up for `show_frames`
    frames (drifting, with fresh sensor noise every frame), then `gap_frames` frames show no code.

    Deterministic for a given `seed`. `frames` ends the source after that many frames (None: forever,
    cycling through the payloads). `fps` paces it like a camera.
    """

    def __init__(self, payloads: Sequence[str | Sequence[str]], *, width: int = 640, height: int = 480,
                 fps: float | None = 30, show_frames: int = 30, gap_frames: int = 15, frames: int | None = None,
                 seed: int = 0, distortion: Any = None):
        if not payloads:
            raise InputError("a synthetic source needs at least one payload")
        self.name = "synthetic"
        self.live = fps is not None
        self.width, self.height = width, height
        self.scenes = [[p] if isinstance(p, str) else list(p) for p in payloads]
        self.show_frames, self.gap_frames, self.frames = show_frames, gap_frames, frames
        self.seed = seed
        self.distortion = distortion
        self._pacer = _Pacer(fps)
        self._index = 0
        self._cache: dict[int, np.ndarray] = {}
        self._rng = np.random.default_rng(seed)

    def scene_at(self, index: int) -> list[str]:
        """The payloads visible in frame `index` (0-based): what a test expects to be decoded."""
        period = self.show_frames + self.gap_frames
        if index % period >= self.show_frames:
            return []
        return self.scenes[(index // period) % len(self.scenes)]

    def open(self) -> None:
        self._pacer.reset()

    def read(self) -> Frame | None:
        if self.frames is not None and self._index >= self.frames:
            return None
        image = self._render(self._index)
        if not self._pacer.wait():
            return None
        frame = Frame(image, time.monotonic(), self._index, self.name)
        self._index += 1
        return frame

    def _render(self, index: int) -> np.ndarray:
        import cv2

        from scanner.sources.synthetic import empty_frame, gate_frame

        period = self.show_frames + self.gap_frames
        showing = index // period
        base = self._cache.get(showing if self.scene_at(index) else -1 - showing)
        if base is None:
            rng = np.random.default_rng((self.seed, showing))
            if self.scene_at(index):
                base, _ = gate_frame(rng, self.scene_at(index), self.width, self.height, self.distortion)
                self._cache = {showing: base}
            else:
                base = empty_frame(rng, self.width, self.height)
                self._cache = {-1 - showing: base}
        # The phone drifts a little, and the sensor adds its own noise to every frame.
        t = index % period
        shift = np.array([[1, 0, 3 * np.sin(t / 7)], [0, 1, 2 * np.cos(t / 5)]], dtype=np.float32)
        moved = cv2.warpAffine(base, shift, (self.width, self.height), borderMode=cv2.BORDER_REPLICATE)
        noise = self._rng.normal(0, 3, size=moved.shape)
        return np.clip(moved + noise, 0, 255).astype(np.uint8)

    def close(self) -> None:
        self._pacer.stop()


def source_from_spec(spec: str, *, width: int = 640, height: int = 480, fps: int = 30, baud: int = 9600,
                     payloads: Sequence[str] = (), replay_fps: float | None = None, loop: bool = False) -> Any:
    """Build the source a `--source`/`camera.source` spec names.

    `camera:N`, `v4l2:/dev/videoN`, `picamera`, `file:PATH`, `dir:PATH`, `video:PATH`, `serial:PORT`
    (`serial:PORT@BAUD` too), `stdin`, `synthetic` (showing `payloads`). `replay_fps` paces file sources
    like a camera.
    """
    kind, _, arg = spec.partition(":")
    if kind == "camera":
        try:
            index = int(arg or "0")
        except ValueError:
            raise InputError(f"source {spec!r}: camera:N takes a device number") from None
        return OpenCVSource(index, width=width, height=height, fps=fps)
    if kind == "v4l2" and arg:
        return OpenCVSource(arg, width=width, height=height, fps=fps)
    if kind == "picamera" and not arg:
        return Picamera2Source(width=width, height=height, fps=fps)
    if kind in ("file", "dir", "video") and arg:
        return FileSource(arg, kind="auto" if kind == "file" else kind, fps=replay_fps, loop=loop)
    if kind == "serial" and arg:
        from scanner.sources.scanners import SerialScannerSource

        port, _, rate = arg.partition("@")
        try:
            return SerialScannerSource(port, baud=int(rate) if rate else baud)
        except ValueError:
            raise InputError(f"source {spec!r}: the baud rate after @ must be a number") from None
    if kind == "stdin" and not arg:
        from scanner.sources.scanners import LineSource

        return LineSource.stdin()
    if kind == "synthetic" and not arg:
        if not payloads:
            raise InputError("the synthetic source needs payloads to show")
        return SyntheticSource(list(payloads), width=width, height=height, fps=replay_fps or fps,
                               frames=None)
    raise InputError(f"unknown source {spec!r}; use camera:N, v4l2:DEVICE, picamera, file:PATH, dir:PATH, "
                     "video:PATH, serial:PORT, stdin or synthetic")
