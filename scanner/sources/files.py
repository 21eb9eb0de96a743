"""Frames from still images, folders of images and video files (`file:`, `dir:`, `video:` sources)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from scanner.errors import InputError
from scanner.sources.base import IMAGE_SUFFIXES, Frame, Pacer
from scanner.sources.camera import Capture

log = logging.getLogger(__name__)


class FileSource:
    """Frames from an image, a folder of images (sorted by name; looping, each pass reads the folder
    anew) or a video file.

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
        self._pacer = Pacer(fps)
        self._files: list[Path] = []
        self._pos = 0
        self._video: Capture | None = None
        self._index = 0

    def open(self) -> None:
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file or folder")
        if self.kind == "dir":
            self._files = self._listing()
        elif self.kind == "image":
            self._files = [self.path]
        else:
            self._open_video()
        self._pos = 0
        self._pacer.reset()

    def _listing(self) -> list[Path]:
        try:
            files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        except OSError as e:
            raise InputError(f"{self.path}: cannot read the folder: {e.strerror or e}") from None
        if not files:
            raise InputError(f"{self.path}: no images in this folder")
        return files

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
                if self.kind == "dir":
                    # A folder as a drop box: each pass reads what is there now.
                    self._files, skipped = self._listing(), 0
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
