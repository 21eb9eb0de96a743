"""`checkpoint check -`: stdin read a chunk at a time, each chunk's answers written at once and flushed."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from scanner.cli import check
from scanner.demo.world import build_demo_world


class ChunkedInput:
    """A binary stdin that hands out the given chunks, one per `read1`, calling `on_read` before each."""

    def __init__(self, chunks: list[bytes], on_read=lambda: None):
        self.chunks, self.on_read = list(chunks), on_read

    def read1(self, n: int) -> bytes:
        self.on_read()
        return self.chunks.pop(0)[:n] if self.chunks else b""


class CountingOutput:
    """A text stdout that counts its writes and tells what has been flushed."""

    def __init__(self) -> None:
        self.writes, self.pending, self.flushed = 0, "", ""

    def write(self, text: str) -> int:
        self.writes += 1
        self.pending += text
        return len(text)

    def flush(self) -> None:
        self.flushed += self.pending
        self.pending = ""


LINE_BYTES = st.lists(st.sampled_from([b"a", b"HCC1:X", b" ", b"\n", b"\r", b"\r\n", b"\xe5\xbc\xa0", b"\xe5\xbc",
                                       b"\xff", b"\x0b", b"\xe2\x80\xa8", b"\xc2\x85"]), max_size=30)


@given(LINE_BYTES, st.lists(st.integers(min_value=1, max_value=8), max_size=10))
def test_stdin_lines_are_bytes_splitlines_decoded_line_by_line_however_the_input_is_cut(parts, cuts) -> None:
    data = b"".join(parts)
    chunks, at = [], 0
    for n in cuts:
        chunks.append(data[at:at + n])
        at += n
    chunks.append(data[at:])
    with mock.patch.object(sys, "stdin", SimpleNamespace(buffer=ChunkedInput([c for c in chunks if c]))):
        got = [line for batch in check._stdin_batches() for line in batch]
    # A "\r\n" cut between two chunks ends a line at "\r" and gives an empty one: empty lines are skipped.
    assert [x for x in got if x] == [x.decode("utf-8", errors="replace") for x in data.splitlines() if x]


def _args(world, now: int, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    check.register(parser.add_subparsers())
    argv = ["check", "--at", str(now), "--anchor", str(world.anchor_path), "--trust-list", str(world.trust_list_path)]
    for p in world.status_list_paths:
        argv += ["--status-list", str(p)]
    return parser.parse_args([*argv, *extra])


def test_each_chunk_s_answers_are_one_write_flushed_before_the_next_read(tmp_path: Path) -> None:
    now = int(time.time())
    world = build_demo_world(tmp_path, now)
    green, forged, card = (world.payloads[n].encode() for n in ("green", "forged", "card"))
    out = CountingOutput()
    seen_at_read: list[list[str]] = []
    stdin = ChunkedInput([green + b"\n" + forged + b"\r\n", b"\n  \n" + green + b"\n" + card[:20], card[20:]],
                         on_read=lambda: seen_at_read.append([json.loads(x)["verdict"]
                                                              for x in out.flushed.splitlines()]))
    with mock.patch.object(sys, "stdin", SimpleNamespace(buffer=stdin)), mock.patch.object(sys, "stdout", out):
        assert check.run(_args(world, now, "--json", "-")) == 0
    # A caller that waits for its answers before sending more has them: every answer to what was read
    # is written and flushed before the command reads (and may wait) again.
    # The card's line has no end: it is answered when the input ends.
    assert seen_at_read == [[], ["ok", "bad_signature"], ["ok", "bad_signature", "ok"],
                            ["ok", "bad_signature", "ok"]]
    assert out.pending == "" and [json.loads(x)["type"] for x in out.flushed.splitlines()][-1] == "card"
    # One write per chunk that completed a line (and one for the last line), however the stream buffers
    # (unbuffered, each write is a system call).
    assert out.writes == 3
