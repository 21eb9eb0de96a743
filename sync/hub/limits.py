"""Bounds on what one request may make the hub hold: body bytes, inflated bytes, JSON depth and items.

An enrolled device is still an untrusted sender (a stolen or compromised one can send anything). So an
upload body is never read whole before being judged:

1. a `Content-Length` above `max_body` is refused before a single body byte is read;
2. the body is streamed, and the first chunk past `max_body` ends the read with 413 (a chunked upload
   without a length is caught here);
3. gzip is inflated chunk by chunk with `max_length`, so a small bomb stops at `max_inflated`;
4. before JSON parsing, the text's nesting depth and number of items are measured with C-speed byte
   operations and refused beyond `max_depth` / `max_items`, so the parser never builds millions of
   tiny objects. Uploads take a faster road to the same bound (`sync/hub/uploadcodec.py`): a count that
   can only over-estimate, then a typed decoder that builds nothing the schema does not name.

The measurement runs on the caller's thread; the upload handler calls it from a worker thread, keeping
the event loop free for other devices.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass


class BodyRefused(Exception):
    """A request body over a limit or not decodable; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str):
        self.status = status
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True)
class BodyLimits:
    max_body: int = 8 * 1024 * 1024  # bytes on the wire (compressed when gzip)
    max_inflated: int = 16 * 1024 * 1024  # bytes after gzip
    max_depth: int = 16  # nesting of arrays/objects (a batch is 4 deep)
    max_items: int = 500_000  # values in the whole document (10,000 rows of ~25 fields)


DEFAULT_LIMITS = BodyLimits()

# A JSON string (escapes included): replaced by `""` before counting, so brackets and commas inside
# text do not count.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# An innermost container: one without another container inside.
_INNERMOST = re.compile(rb"\[[^\[\]{}]*\]|\{[^\[\]{}]*\}")


def check_content_length(header: str | None, limits: BodyLimits = DEFAULT_LIMITS) -> None:
    """Refuse a declared body over the limit before reading it."""
    if header is None:
        return
    try:
        length = int(header)
    except ValueError:
        raise BodyRefused(400, f"Content-Length {header[:40]!r} is not a number") from None
    if length < 0:
        raise BodyRefused(400, "Content-Length is negative")
    if length > limits.max_body:
        raise BodyRefused(413, f"body of {length} bytes is larger than the limit of {limits.max_body} bytes")


async def read_capped(chunks: AsyncIterator[bytes], limits: BodyLimits = DEFAULT_LIMITS) -> bytes:
    """Read a streamed body, stopping with 413 at the first chunk beyond `max_body`."""
    buf = bytearray()
    async for chunk in chunks:
        if len(buf) + len(chunk) > limits.max_body:
            raise BodyRefused(413, f"body larger than the limit of {limits.max_body} bytes")
        buf += chunk
    return bytes(buf)


def inflate_capped(raw: bytes, limits: BodyLimits = DEFAULT_LIMITS) -> bytes:
    """Inflate a gzip body, refusing (413) as soon as the output would pass `max_inflated`."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    data = raw
    step = 1024 * 1024
    try:
        while True:
            room = limits.max_inflated - len(out)
            piece = d.decompress(data, min(step, room + 1))
            out += piece
            if len(out) > limits.max_inflated:
                raise BodyRefused(413, f"body inflates beyond the limit of {limits.max_inflated} bytes")
            data = d.unconsumed_tail
            if not data and (d.eof or not piece):
                break
        if not d.eof:
            raise BodyRefused(400, "body is not valid gzip: stream ends early")
        if d.unused_data:
            raise BodyRefused(400, "body is not valid gzip: data after the end of the stream")
    except zlib.error as e:
        raise BodyRefused(400, f"body is not valid gzip: {e}") from None
    return bytes(out)


def items_at_most(raw: bytes, max_items: int) -> bool:
    """True if the JSON text surely holds at most `max_items` values: commas and opening brackets counted
    without blanking strings first, so text inside strings only adds (C-speed, one pass: what is left once
    every other byte is deleted; `check_json_shape` is exact)."""
    return len(raw.translate(None, _NOT_ITEM_MARKS)) <= max_items


_NOT_ITEM_MARKS = bytes(sorted(set(range(256)) - set(b",[{")))


def check_json_shape(raw: bytes, limits: BodyLimits = DEFAULT_LIMITS) -> None:
    """Refuse (413) JSON text nested deeper than `max_depth` or holding more than `max_items` values.

    Works on the bytes, not a parse: strings are blanked, then commas and brackets are counted, and
    innermost containers are removed one level per pass. Text that is not valid JSON may pass; the
    parser that follows refuses it.
    """
    bare = _STRING.sub(b'""', raw)
    items = bare.count(b",") + bare.count(b"[") + bare.count(b"{")
    if items > limits.max_items:
        raise BodyRefused(413, f"body holds more than {limits.max_items} JSON values")
    depth = 0
    while b"[" in bare or b"{" in bare:
        if depth == limits.max_depth:
            raise BodyRefused(413, f"body nests JSON deeper than {limits.max_depth} levels")
        bare, n = _INNERMOST.subn(b"0", bare)
        if n == 0:  # unbalanced brackets: not JSON; the parser says so
            return
        depth += 1


def decode_body(raw: bytes, content_encoding: str | None, limits: BodyLimits = DEFAULT_LIMITS, *,
                shape: bool = True) -> bytes:
    """The JSON text of an upload: inflated if gzip, then its shape checked (`shape=False`: the caller's
    decoder bounds it, see `sync/hub/uploadcodec.py`). Raises `BodyRefused`."""
    encoding = (content_encoding or "").strip().lower()
    if encoding == "gzip":
        raw = inflate_capped(raw, limits)
    elif encoding not in ("", "identity"):
        raise BodyRefused(415, f"Content-Encoding {encoding[:40]!r} is not supported (use gzip or none)")
    if shape:
        check_json_shape(raw, limits)
    return raw
