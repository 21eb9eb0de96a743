"""A serial scanner module on a real pseudo-terminal: the test writes to the master side as the
scanner would, the source reads the slave side through pyserial."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import tty

import pytest

from scanner.errors import SourceError
from scanner.events import DecisionEvent, RepeatEvent, SourceEvent
from scanner.pipeline import Pipeline
from scanner.sources.scanners import MAX_LINE, SerialScannerSource

CODE = "HCC1:NCFS90X10FFWTWGSLKC 4G79F8483OPCE3%NU7BV%K3"


class ObservedSerialSource(SerialScannerSource):
    """Says when the port is open: pyserial flushes input on open, so the test writes after that."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.opened = threading.Event()

    def open(self) -> None:
        super().open()
        self.opened.set()


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    tty.setraw(slave)
    name = os.ttyname(slave)
    yield master, name
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


def test_serial_lines_become_payloads(pty_pair):
    master, port = pty_pair
    src = SerialScannerSource(port, baud=115200, poll=0.05)
    src.open()
    try:
        # CR, LF and CRLF line ends, a line split across writes, an empty line.
        os.write(master, CODE[:10].encode())
        os.write(master, CODE[10:].encode() + b"\r\n")
        os.write(master, b"\r\nHCC1:SECOND\rHCC1:THIRD \n")
        got = [src.read() for _ in range(3)]
    finally:
        src.close()
    assert [g.text for g in got if g] == [CODE, "HCC1:SECOND", "HCC1:THIRD "]
    assert all(g is not None and g.origin == f"serial:{port}" for g in got)


def test_missing_port_is_a_camera_error(tmp_path):
    with pytest.raises(SourceError, match="could not be opened"):
        SerialScannerSource(str(tmp_path / "ttyACM9")).open()


def test_scanner_through_the_pipeline_with_a_disconnect(pty_pair):
    master, port = pty_pair
    events: queue.Queue = queue.Queue()
    src = ObservedSerialSource(port, poll=0.05)
    pipeline = Pipeline(src, lambda payload, now: f"checked {payload}", events.put, retry=(0.05, 0.2))
    pipeline.start()
    try:
        assert src.opened.wait(30)
        os.write(master, (CODE + "\r\n").encode())
        ev = events.get(timeout=30)
        assert isinstance(ev, DecisionEvent)
        assert ev.decision == f"checked {CODE}" and ev.source == f"serial:{port}" and ev.decode_ms == 0
        os.write(master, (CODE + "\r\n").encode())  # the same scan again at once: a repeat, not decided
        os.write(master, b"HCC1:OTHER\r\n")
        ev = events.get(timeout=30)
        assert isinstance(ev, RepeatEvent) and ev.payload == CODE and ev.source == f"serial:{port}"
        ev = events.get(timeout=30)
        assert isinstance(ev, DecisionEvent) and ev.payload == "HCC1:OTHER"
        # Unplugging: the master side goes away, reads on the slave fail.
        os.close(master)
        ev = events.get(timeout=30)
        assert isinstance(ev, SourceEvent) and ev.kind == "disconnected"
        assert pipeline.alive()
    finally:
        pipeline.stop()
    assert not pipeline.alive()


def test_an_overlong_serial_line_is_one_scan_and_its_rest_is_dropped(pty_pair):
    master, port = pty_pair
    src = SerialScannerSource(port, baud=115200, poll=0.05)
    src.open()
    try:
        # Line noise at the wrong baud rate, then a real scan; written while the source reads (a terminal
        # holds only a few KiB unread).
        data = b"\x7f" * (MAX_LINE * 2 + 50) + b"\r\n" + CODE.encode() + b"\r\n"
        def write_all() -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(master, view):]

        writer = threading.Thread(target=write_all, daemon=True)
        writer.start()
        got = [src.read(), src.read()]
        writer.join(30)
    finally:
        src.close()
    assert [g.text if g else None for g in got] == ["\x7f" * MAX_LINE, CODE]


def test_a_scan_without_a_line_end_is_ended_by_the_pause(pty_pair):
    """A scanner set up without a CR/LF suffix, or a partial line (a glitch): a pause ends the scan, as with a
    keyboard wedge. Left in the buffer, such a scanner would never be answered, and a glitch's bytes would be
    glued to the front of the next person's code, which would then read as "not recognised"."""
    master, port = pty_pair
    src = SerialScannerSource(port, baud=115200, poll=0.05, pause=0.2)
    src.open()
    try:
        os.write(master, b"HCC1:PART")
        first = src.read()
        os.write(master, CODE.encode() + b"\r\n")
        second = src.read()
    finally:
        src.close()
    assert [first.text if first else None, second.text if second else None] == ["HCC1:PART", CODE]
