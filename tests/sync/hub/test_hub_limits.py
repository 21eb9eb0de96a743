"""The hub's request-body limits, byte by byte: declared length, streamed cap, gzip inflation, JSON shape."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.hub.limits import (
    BodyLimits,
    BodyRefused,
    check_content_length,
    check_json_shape,
    decode_body,
    inflate_capped,
    items_at_most,
    read_capped,
)
from sync.hub.server import listening_socket

SMALL = BodyLimits(max_body=1000, max_inflated=5000, max_depth=4, max_items=50)


def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(BodyRefused) as e:
        check_content_length(str(2**30), SMALL)
    assert e.value.status == 413
    for bad in ("abc", "-1"):
        with pytest.raises(BodyRefused) as e:
            check_content_length(bad, SMALL)
        assert e.value.status == 400
    check_content_length("1000", SMALL)
    check_content_length(None, SMALL)


def test_streamed_body_stops_at_the_first_chunk_past_the_limit() -> None:
    pulled = []

    async def endless():
        while True:
            pulled.append(1)
            yield b"x" * 300

    with pytest.raises(BodyRefused) as e:
        asyncio.run(read_capped(endless(), SMALL))
    assert e.value.status == 413 and len(pulled) == 4  # 900 bytes kept, the 4th chunk refused

    async def some():
        for _ in range(3):
            yield b"y" * 300

    assert asyncio.run(read_capped(some(), SMALL)) == b"y" * 900


def test_gzip_bomb_stops_at_the_inflation_limit() -> None:
    bomb = gzip.compress(b"\0" * 10_000_000)
    assert len(bomb) < 20_000
    with pytest.raises(BodyRefused) as e:
        inflate_capped(bomb, SMALL)
    assert e.value.status == 413
    assert inflate_capped(gzip.compress(b"[1,2]"), SMALL) == b"[1,2]"
    for broken in (b"not gzip", gzip.compress(b"[1,2]")[:-6], gzip.compress(b"[]") + b"junk"):
        with pytest.raises(BodyRefused) as e:
            inflate_capped(broken, SMALL)
        assert e.value.status == 400


def test_exactly_the_inflation_limit_is_allowed() -> None:
    body = b"1" * SMALL.max_inflated
    assert inflate_capped(gzip.compress(body), SMALL) == body
    with pytest.raises(BodyRefused):
        inflate_capped(gzip.compress(body + b"1"), SMALL)


def test_json_depth_and_item_caps() -> None:
    check_json_shape(b'{"visits": [{"a": [1, 2], "b": {"c": "[[[[[[[[,,,,,,"}}]}', SMALL)
    with pytest.raises(BodyRefused, match="deeper"):
        check_json_shape(b"[" * 5 + b"]" * 5, SMALL)
    with pytest.raises(BodyRefused, match="deeper"):
        check_json_shape(b"[" * 200_000 + b"]" * 200_000, BodyLimits())
    with pytest.raises(BodyRefused, match="values"):
        check_json_shape(json.dumps(list(range(60))).encode(), SMALL)
    with pytest.raises(BodyRefused, match="values"):
        check_json_shape(b"[" + b"[]," * 600_000 + b"[]]", BodyLimits())
    check_json_shape(b'"\\"[[[[[[[["', SMALL)  # escaped quotes keep the string a string


def test_decode_body_refuses_unknown_encodings() -> None:
    with pytest.raises(BodyRefused) as e:
        decode_body(zlib.compress(b"[]"), "deflate", SMALL)
    assert e.value.status == 415
    assert decode_body(b"[]", None, SMALL) == b"[]"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_either_passed_or_refused_cleanly(data: bytes) -> None:
    for encoding in (None, "gzip"):
        try:
            decode_body(data, encoding, SMALL)
        except BodyRefused as e:
            assert e.status in (400, 413)


def test_hub_socket_has_nagle_off() -> None:
    sock = listening_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        client = socket.create_connection(sock.getsockname(), timeout=5)
        conn, _ = sock.accept()
        with client, conn:
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()


@given(raw=st.binary(max_size=200), limit=st.integers(min_value=0, max_value=60))
def test_items_at_most_counts_commas_and_opening_brackets(raw: bytes, limit: int) -> None:
    assert items_at_most(raw, limit) == (raw.count(b",") + raw.count(b"[") + raw.count(b"{") <= limit)
