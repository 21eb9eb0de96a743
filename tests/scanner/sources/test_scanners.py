"""Hardware scanner input without hardware: keyboard-wedge assembly and line sources."""

from __future__ import annotations

import io
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.errors import InputError
from scanner.sources.scanners import MAX_LINE, LineSource, WedgeBuffer, WedgeSource

CODE = "HCC1:NCFS90X10FFWTWGSLKC 4G79F8483"


def type_into(buf: WedgeBuffer, text: str, start: float, gap: float = 0.01) -> list[str]:
    out = []
    for i, ch in enumerate(text):
        done = buf.key(ch, start + i * gap)
        if done is not None:
            out.append(done)
    return out


def test_wedge_completes_on_enter():
    buf = WedgeBuffer(0.15)
    assert type_into(buf, CODE, 10.0) == []
    assert buf.key("\r", 10.0 + len(CODE) * 0.01) == CODE
    assert buf.key("\n", 10.5) is None  # CR LF: the LF ends nothing
    assert buf.pending_deadline() is None


def test_wedge_completes_on_a_pause_and_keeps_the_next_scan_apart():
    buf = WedgeBuffer(0.15)
    type_into(buf, CODE, 0.0)
    end = len(CODE) * 0.01
    assert buf.poll(end + 0.05) is None
    assert buf.pending_deadline() == pytest.approx(end - 0.01 + 0.15)
    assert buf.poll(end + 0.2) == CODE
    assert buf.poll(end + 1.0) is None
    # A second scan typed after a pause, without polling in between: the first is returned by the
    # first key of the second, the second on its own pause.
    buf.key("A", 5.0)
    buf.key("B", 5.01)
    buf.key("C", 5.02)
    buf.key("D", 5.03)
    assert buf.key("X", 6.0) == "ABCD"
    assert buf.poll(6.2) is None  # "X" alone is a stray key, not a scan


def test_wedge_drops_stray_keys_and_controls():
    buf = WedgeBuffer(0.15, min_length=4)
    buf.key("a", 1.0)
    assert buf.key("\r", 1.05) is None
    assert buf.key("\x1b", 1.1) is None and buf.pending_deadline() is None
    with pytest.raises(InputError):
        WedgeBuffer(0)


def test_wedge_source_hands_payloads_across_threads():
    src = WedgeSource(0.05)
    src.open()
    got: list[str] = []
    done = threading.Event()

    def reader():
        while (item := src.read()) is not None:
            got.append(item.text)
            if len(got) == 2:
                done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    for ch in CODE + "\r":
        src.feed(ch)
    for ch in "HCC1:SECOND":  # no Enter: the pause ends it
        src.feed(ch)
    assert done.wait(10)
    src.close()
    t.join(10)
    assert got == [CODE, "HCC1:SECOND"] and not t.is_alive()


def test_line_source_reads_payloads_until_end_of_file(tmp_path):
    src = LineSource(io.BytesIO(b"HCC1:ONE\r\n\n   \nHCC1:TWO  \nHCC1:\xff\xfe\n"), "test")
    src.open()
    items = []
    while (item := src.read()) is not None:
        items.append(item)
    src.close()
    # Trailing spaces are the payload's own (verification decides about them); line ends are not.
    assert [i.text for i in items] == ["HCC1:ONE", "HCC1:TWO  ", "HCC1:\\xff\\xfe"]
    assert all(i.origin == "test" for i in items)
    path = tmp_path / "scans.txt"
    path.write_text("HCC1:A\nHCC1:B\n")
    f = LineSource.from_file(str(path))
    assert [f.read().text, f.read().text, f.read()] == ["HCC1:A", "HCC1:B", None]
    f.close()
    with pytest.raises(InputError, match="cannot read"):
        LineSource.from_file(str(tmp_path / "missing.txt"))


printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


@settings(deadline=None)
@given(codes=st.lists(st.text(printable, min_size=4, max_size=60), min_size=1, max_size=5),
       enter=st.booleans(), gap=st.floats(0.0005, 0.05))
def test_wedge_returns_each_burst_exactly(codes, enter, gap):
    """Bursts typed faster than the timeout, apart by more than it, come back exactly, Enter or not."""
    buf = WedgeBuffer(0.15)
    out: list[str] = []
    t = 100.0
    for code in codes:
        for ch in code:
            done = buf.key(ch, t)
            if done is not None:
                out.append(done)
            t += gap
        if enter:
            done = buf.key("\r", t)
            if done is not None:
                out.append(done)
        t += 1.0
    done = buf.poll(t)
    if done is not None:
        out.append(done)
    assert out == codes


def test_an_overlong_line_is_one_scan_and_its_rest_is_never_read_as_more_scans():
    """A scanner (or a paste) sending a line longer than any code: one answer for it, not one per chunk."""
    long_line = b"X" * (MAX_LINE * 3 + 100)
    src = LineSource(io.BytesIO(long_line + b"\nHCC1:NEXT\n" + b"Y" * (MAX_LINE + 5)), "test")
    items = []
    while (item := src.read()) is not None:
        items.append(item.text)
    assert items == ["X" * MAX_LINE, "HCC1:NEXT", "Y" * MAX_LINE]


def test_an_overlong_wedge_burst_is_one_scan():
    buf = WedgeBuffer(0.15)
    out = type_into(buf, "Z" * (MAX_LINE * 2 + 7) + "\r", 0.0, gap=0.00001)
    assert out == ["Z" * MAX_LINE]
    assert type_into(buf, CODE + "\r", 10.0) == [CODE]
