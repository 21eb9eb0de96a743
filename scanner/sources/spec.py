"""`source_from_spec`: the source a `--source` option or `camera.source` setting names.

`source_spec_problem` checks a spec's form without opening anything, so `config check` refuses a
mistyped `camera.source` or `gate.sources` entry the way the kiosk and the gate would at start. The
sources' modules (OpenCV, numpy) load only when a source of theirs is built.
"""

from __future__ import annotations

from collections.abc import Sequence

from scanner.errors import InputError
from scanner.sources.base import Source

# `camera.source` values that mean "this device has no camera": codes come from a hardware scanner only.
NO_CAMERA = ("", "none")

_FORMS = ("camera:N, v4l2:DEVICE, picamera, file:PATH, dir:PATH, video:PATH, serial:PORT[@BAUD], stdin or "
          "synthetic")


def no_camera(spec: str) -> bool:
    """Whether a `camera.source` setting says the device has no camera (gate and kiosk both ask this)."""
    return spec.strip().lower() in NO_CAMERA


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def source_spec_problem(spec: str) -> str | None:
    """What is wrong with the form of a source spec, or None when `source_from_spec` can build it."""
    kind, _, arg = spec.partition(":")
    if kind == "camera":
        return None if _is_int(arg or "0") else f"source {spec!r}: camera:N takes a device number"
    if kind == "serial" and arg:
        rate = arg.partition("@")[2]
        return None if not rate or _is_int(rate) else f"source {spec!r}: the baud rate after @ must be a number"
    if (kind in ("v4l2", "file", "dir", "video") and arg) or (kind in ("picamera", "stdin", "synthetic") and not arg):
        return None
    return f"unknown source {spec!r}; use {_FORMS}"


def source_from_spec(spec: str, *, width: int = 640, height: int = 480, fps: int = 30, baud: int = 9600,
                     payloads: Sequence[str] = (), replay_fps: float | None = None, loop: bool = False) -> Source:
    """Build the source a `--source`/`camera.source` spec names.

    `camera:N`, `v4l2:/dev/videoN`, `picamera`, `file:PATH`, `dir:PATH`, `video:PATH`, `serial:PORT`
    (`serial:PORT@BAUD` too), `stdin`, `synthetic` (showing `payloads`). `replay_fps` paces file sources
    like a camera.
    """
    problem = source_spec_problem(spec)
    if problem:
        raise InputError(problem)
    kind, _, arg = spec.partition(":")
    if kind in ("camera", "v4l2", "picamera"):
        from scanner.sources.camera import OpenCVSource, Picamera2Source

        if kind == "picamera":
            return Picamera2Source(width=width, height=height, fps=fps)
        return OpenCVSource(int(arg or "0") if kind == "camera" else arg, width=width, height=height, fps=fps)
    if kind in ("file", "dir", "video"):
        from scanner.sources.files import FileSource

        return FileSource(arg, kind="auto" if kind == "file" else kind, fps=replay_fps, loop=loop)
    if kind == "serial":
        from scanner.sources.scanners import SerialScannerSource

        port, _, rate = arg.partition("@")
        try:
            return SerialScannerSource(port, baud=int(rate) if rate else baud)
        except ValueError:
            raise InputError(f"source {spec!r}: the baud rate after @ must be a number") from None
    if kind == "stdin":
        from scanner.sources.scanners import LineSource

        return LineSource.stdin()
    from scanner.sources.synthetic import SyntheticSource

    if not payloads:
        raise InputError("the synthetic source needs payloads to show")
    return SyntheticSource(list(payloads), width=width, height=height, fps=replay_fps or fps, frames=None)
