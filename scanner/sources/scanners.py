"""Hardware 2D scanners: serial modules, line-oriented text (stdin, a file) and keyboard-wedge input.

A hardware scanner decodes the QR itself and sends the text, so its payloads bypass image decoding.
Sources here share the frame sources' shape (`open()`, `read()`, `close()`, `name`, `live`) but `read()`
returns a `ScannedText`; the pipeline checks those directly and never drops one (each is a deliberate
scan by a guard or a visitor).

Keyboard-wedge scanners type the payload as key presses. The kiosk only forwards keys: `WedgeBuffer`
holds the logic (characters until Enter, or until the scanner pauses), `WedgeSource` makes it a
thread-safe source. No Qt here.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import IO, Protocol

from scanner.errors import InputError, SourceError
from scanner.sources.base import ScannedText

# A line longer than this is not a health code. Its first MAX_LINE characters are handed on as one scan
# (the checker answers "not recognised": one scan, one answer) and the rest of the line is dropped, never
# read as further scans, and the buffer never grows without bound.
MAX_LINE = 16384


def _text(raw: bytes) -> str:
    # Scanners send ASCII; anything else is kept visible (\\xNN) rather than guessed at.
    return raw.decode("utf-8", errors="backslashreplace")


def _line_end(buf: bytearray) -> int:
    """Where the first line in `buf` ends (its CR or LF), or -1."""
    return min((i for i in (buf.find(b"\r"), buf.find(b"\n")) if i >= 0), default=-1)


class SerialPort(Protocol):
    """What the scanner source uses of a `serial.Serial` port (tests pass a fake)."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def close(self) -> None: ...


class SerialScannerSource:
    """A serial (USB CDC/UART) scanner module: each line it sends is one payload, and so is whatever it sent
    before a pause of `pause` seconds (a scanner set up without a line-end suffix, or a glitch's partial line,
    which must not be glued to the front of the next scan)."""

    live = True
    scanned_text = True

    def __init__(self, port: str, *, baud: int = 9600, poll: float = 0.2, pause: float = 0.5,
                 serial_factory: Callable[..., SerialPort] | None = None):
        self.port, self.baud, self.poll, self.pause = port, baud, poll, pause
        self._last_byte = 0.0  # monotonic time the buffer last grew
        self.name = f"serial:{port}"
        self._factory = serial_factory
        self._serial: SerialPort | None = None
        self._buf = bytearray()
        self._skipping = False  # the rest of an overlong line, dropped up to its end
        self._closing = threading.Event()

    def open(self) -> None:
        import serial

        factory = self._factory or serial.Serial
        try:
            self._serial = factory(self.port, self.baud, timeout=self.poll)
        except (serial.SerialException, OSError, ValueError) as e:
            raise SourceError(f"scanner on {self.port} could not be opened: {e}") from None
        self._buf.clear()
        self._skipping = False
        self._closing.clear()

    def read(self) -> ScannedText | None:
        import serial

        while not self._closing.is_set():
            port = self._serial
            if port is None:
                raise SourceError(f"scanner on {self.port} is not open")
            if self._skipping:  # the rest of an overlong line: dropped up to its end
                end = _line_end(self._buf)
                if end >= 0:
                    del self._buf[:end + 1]
                    self._skipping = False
                    continue
                self._buf.clear()
            else:
                self._buf = self._buf.lstrip(b"\r\n")
                end = _line_end(self._buf)
                if end >= 0:
                    line = bytes(self._buf[:min(end, MAX_LINE)])
                    del self._buf[:end + 1]
                    if line.strip():
                        return ScannedText(_text(line), time.monotonic(), self.name)
                    continue
                if len(self._buf) > MAX_LINE:
                    line, self._skipping = bytes(self._buf[:MAX_LINE]), True
                    self._buf.clear()
                    return ScannedText(_text(line), time.monotonic(), self.name)
                if self._buf and time.monotonic() - self._last_byte >= self.pause:
                    line = bytes(self._buf)
                    self._buf.clear()
                    if line.strip():
                        return ScannedText(_text(line), time.monotonic(), self.name)
            try:
                chunk = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError) as e:
                if self._closing.is_set():
                    return None
                self._drop_port()
                raise SourceError(f"scanner on {self.port} disconnected: {e}") from None
            if chunk:
                self._buf += chunk
                self._last_byte = time.monotonic()
        return None

    def _drop_port(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(Exception):  # already gone; nothing to release
                port.close()

    def close(self) -> None:
        self._closing.set()
        self._drop_port()


class LineSource:
    """Payloads one per line from a text stream (stdin, a file of scans); ends at end of file.

    A blocking read on stdin cannot be interrupted: the pipeline's reader thread is a daemon for it.
    """

    live = True
    scanned_text = True

    def __init__(self, stream: IO[bytes], name: str = "lines", *, closes: bool = True):
        self.name = name
        self._stream = stream
        self._closes = closes

    @classmethod
    def stdin(cls) -> LineSource:
        # A reader of its own on a copy of file descriptor 0. The daemon thread blocked in it then holds this
        # reader's lock, not sys.stdin's: the interpreter closes sys.stdin at exit, and aborts ("could not
        # acquire lock for <stdin>") if a thread still reads it. It is never closed here either, for the same
        # lock; the process's exit releases it.
        try:
            fd = os.dup(sys.stdin.fileno())
        except (OSError, ValueError):  # no descriptor behind sys.stdin (an embedding, a test's stream)
            return cls(sys.stdin.buffer, "stdin", closes=False)
        return cls(os.fdopen(fd, "rb"), "stdin", closes=False)

    @classmethod
    def from_file(cls, path: str) -> LineSource:
        try:
            return cls(open(path, "rb"), f"file:{path}")
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror}") from None

    def open(self) -> None:
        pass

    def read(self) -> ScannedText | None:
        while True:
            try:
                raw = self._stream.readline(MAX_LINE + 1)
            except (OSError, ValueError):
                return None
            if not raw:
                return None
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                self._skip_line()
            line = raw.rstrip(b"\r\n")[:MAX_LINE]
            if line.strip():
                return ScannedText(_text(line), time.monotonic(), self.name)

    def _skip_line(self) -> None:
        """Drop the rest of an overlong line, up to and with its newline (or the end of the stream)."""
        while True:
            try:
                rest = self._stream.readline(MAX_LINE)
            except (OSError, ValueError):
                return
            if not rest or rest.endswith(b"\n"):
                return

    def close(self) -> None:
        if self._closes and not isinstance(self._stream, io.BytesIO):
            self._stream.close()


ENTER_KEYS = ("\r", "\n")


class WedgeBuffer:
    """Keyboard-wedge assembly: characters until Enter, or until the scanner pauses for `timeout`.

    A scanner types a whole code in a burst; a pause longer than `timeout` ends it (scanners set up
    without an Enter suffix). Fewer than `min_length` characters is a stray key press, not a scan, and
    is dropped. Pure logic on times the caller gives; not thread-safe (see `WedgeSource`).
    """

    def __init__(self, timeout: float = 0.15, *, min_length: int = 4):
        if timeout <= 0:
            raise InputError(f"wedge timeout must be positive, got {timeout}")
        self.timeout = timeout
        self.min_length = min_length
        self._chars: list[str] = []
        self._length = 0
        self._overlong = False  # past MAX_LINE: further keys of this burst are dropped
        self._last = 0.0
        self.started: float | None = None  # when the pending payload's first key arrived

    def _finish(self) -> str | None:
        text = "".join(self._chars)[:MAX_LINE]
        self._chars.clear()
        self._length = 0
        self._overlong = False
        self.started = None
        return text if len(text) >= self.min_length else None

    def key(self, text: str, now: float) -> str | None:
        """Feed one key's text ("\\r" for Enter); a completed payload, if this key completed one."""
        done = self.poll(now)
        if text in ENTER_KEYS:
            finished = self._finish() if self._chars else None
            return done if done is not None else finished
        if not text or not text.isprintable():
            return done
        if not self._chars:
            self.started = now
        self._last = now
        if not self._overlong:
            self._chars.append(text)
            self._length += len(text)
            self._overlong = self._length >= MAX_LINE
        return done

    def poll(self, now: float) -> str | None:
        """A payload ended by the pause, if the scanner has been silent for `timeout`."""
        if self._chars and now - self._last >= self.timeout:
            return self._finish()
        return None

    def pending_deadline(self) -> float | None:
        """When `poll` will complete the pending payload, if any."""
        return self._last + self.timeout if self._chars else None


class WedgeSource:
    """A `WedgeBuffer` as a source: the UI thread calls `feed(key_text)`, the pipeline reads payloads."""

    live = True
    scanned_text = True
    name = "wedge"

    def __init__(self, timeout: float = 0.15, *, min_length: int = 4,
                 clock: Callable[[], float] = time.monotonic):
        self._buffer = WedgeBuffer(timeout, min_length=min_length)
        self._clock = clock
        self._ready: deque[ScannedText] = deque()
        self._cv = threading.Condition()
        self._closed = False

    def feed(self, text: str) -> None:
        with self._cv:
            now = self._clock()
            started = self._buffer.started
            done = self._buffer.key(text, now)
            if done is not None:
                self._ready.append(ScannedText(done, started if started is not None else now, self.name))
            self._cv.notify_all()

    def open(self) -> None:
        with self._cv:
            self._closed = False

    def read(self) -> ScannedText | None:
        with self._cv:
            while not self._closed:
                if self._ready:
                    return self._ready.popleft()
                started = self._buffer.started
                done = self._buffer.poll(self._clock())
                if done is not None:
                    return ScannedText(done, started if started is not None else self._clock(), self.name)
                deadline = self._buffer.pending_deadline()
                self._cv.wait(None if deadline is None else max(0.001, deadline - self._clock()))
            return None

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
