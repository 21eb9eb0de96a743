"""`source_from_spec`: the source a `--source` option or `camera.source` setting names."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.errors import InputError
from scanner.sources.base import Source
from scanner.sources.camera import OpenCVSource, Picamera2Source
from scanner.sources.files import FileSource
from scanner.sources.synthetic import SyntheticSource

# `camera.source` values that mean "this device has no camera": codes come from a hardware scanner only.
NO_CAMERA = ("", "none")


def no_camera(spec: str) -> bool:
    """Whether a `camera.source` setting says the device has no camera (gate and kiosk both ask this)."""
    return spec.strip().lower() in NO_CAMERA


def source_from_spec(spec: str, *, width: int = 640, height: int = 480, fps: int = 30, baud: int = 9600,
                     payloads: Sequence[str] = (), replay_fps: float | None = None, loop: bool = False) -> Source:
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
