"""Reading one large JSON object a piece at a time, so a document far larger than memory can be checked.

`object_events` walks the members of a top-level object from a stream of text chunks. Small members come
out whole; the members named as streamed strings come out as pieces of their raw text (the payload of a
JWS: base64url, which never needs an escape), and those named as streamed arrays as lists of elements, a
batch at a time. Every value and element is parsed by the standard library's `json`; only the structure
between them (braces, brackets, commas, colons, whitespace) is followed here. A batch of elements is
parsed in one call: a cut at a comma that is not between two elements always leaves unbalanced brackets
or an unterminated string, so a batch that parses is exactly a run of whole elements (otherwise the
elements are read one by one). A caller may name a parser of its own for an array's elements in the
form it expects nearly always (one pass of regular expressions instead of a parse into Python objects);
where that parser takes nothing, the elements are parsed as above. A member named twice is refused: the
document would be ambiguous.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping

from keys.jsontypes import Json

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"
_NUMBER_GOES_ON = ("", *"0123456789.eE+-")
# Elements are parsed this much text at a time.
BATCH_CHARS = 1 << 20
# A member or element larger than this is refused rather than buffered (the streamed ones have no limit).
MAX_VALUE_CHARS = 1 << 20


# A caller's parser of an array's elements: given the unread text of the array (from the start of an element),
# (n, batch) when text[:n] is a run of whole elements followed by a comma, else None.
BatchParser = Callable[[str], tuple[int, object] | None]


class JsonStreamError(ValueError):
    """The text is not one JSON object, or holds something this reader does not take."""


class _Text:
    """The unread rest of the stream: a window of text and a position in it."""

    def __init__(self, chunks: Iterable[str]):
        self._chunks = iter(chunks)
        self.text = ""
        self.pos = 0
        self.dropped = 0  # characters read and dropped before `text`
        self.eof = False

    def more(self) -> bool:
        """Append the next chunk (dropping what was read); False at the end of the stream."""
        for chunk in self._chunks:
            if chunk:
                self.dropped += self.pos
                self.text = self.text[self.pos:] + chunk
                self.pos = 0
                return True
        self.eof = True
        return False

    def ensure(self, n: int) -> None:
        """At least `n` unread characters, unless the stream ends first."""
        while len(self.text) - self.pos < n and not self.eof and self.more():
            pass

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), without consuming it."""
        while True:
            t, p, n = self.text, self.pos, len(self.text)
            while p < n and t[p] in _WHITESPACE:
                p += 1
            self.pos = p
            if p < n:
                return t[p]
            if not self.more():
                return ""

    def expect(self, chars: str, what: str) -> str:
        c = self.peek()
        if not c or c not in chars:
            raise JsonStreamError(f"expected {what} at {'the end' if not c else repr(c)}")
        self.pos += 1
        return c

    def value(self) -> Json:
        """One whole JSON value (after `peek`)."""
        while True:
            try:
                v, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as e:
                if self.eof:
                    raise JsonStreamError(f"not JSON: {e.msg}") from None
            except RecursionError:
                raise JsonStreamError("a value is nested too deeply") from None
            else:
                # A number at the end of the window ("-0." of "-0.5") may go on in the next chunk.
                if self.eof or not (isinstance(v, int | float) and self.text[end:end + 1] in _NUMBER_GOES_ON):
                    self.pos = end
                    return v
            if len(self.text) - self.pos > MAX_VALUE_CHARS:
                raise JsonStreamError(f"a value is longer than {MAX_VALUE_CHARS:,} characters")
            self.more()

    def string_pieces(self) -> Iterator[str]:
        """The raw text of a string (after `peek` found its quote), a piece at a time."""
        self.pos += 1
        while True:
            t, p = self.text, self.pos
            q = t.find('"', p)
            piece = t[p:] if q < 0 else t[p:q]
            if "\\" in piece:
                raise JsonStreamError("a streamed string holds an escape")
            if piece:
                yield piece
            if q >= 0:
                self.pos = q + 1
                return
            self.pos = len(t)
            if not self.more():
                raise JsonStreamError("unterminated string")

    def elements(self, batch_chars: int, parser: BatchParser | None = None) -> Iterator[Json]:
        """The elements of an array (after `peek` found its bracket), a batch at a time: lists of them, or
        what `parser` made of a run of them."""
        self.pos += 1
        if self.peek() == "]":
            self.pos += 1
            return
        singly_until = -1  # after a batch that did not parse, elements are read singly up to this offset
        while True:
            self.ensure(batch_chars)
            if self.dropped + self.pos >= singly_until:
                window = self.text[self.pos:self.pos + batch_chars]
                parsed = parser(window) if parser is not None else None
                if parsed is not None:
                    self.pos += parsed[0] + 1
                    yield parsed[1]
                    continue
                cut = window.rfind(",")
                # A window that runs past the array's end does not parse: try its first half, and so on.
                while cut > 0:
                    try:
                        batch = json.loads("[" + window[:cut] + "]")
                    except (json.JSONDecodeError, RecursionError):
                        cut = window.rfind(",", 0, cut // 2)
                    else:
                        break
                if cut > 0:
                    self.pos += cut + 1
                    yield batch
                    continue
                singly_until = self.dropped + self.pos + len(window)
            self.peek()
            yield [self.value()]
            if self.expect(",]", "',' or ']' in an array") == "]":
                return


def object_events(chunks: Iterable[str], *, strings: Collection[str] = (),
                  arrays: Collection[str] = (), batch_chars: int = BATCH_CHARS,
                  parsers: Mapping[str, BatchParser] | None = None) -> Iterator[tuple[str, str, Json]]:
    """(kind, member name, value) for one JSON object read from `chunks`, in document order:
    ("member", name, value) for a member read whole, ("piece", name, text) for each piece of a member in
    `strings` whose value is a string, ("items", name, [elements]) for each batch of a member in `arrays`
    whose value is an array (or what `parsers[name]` made of a run of its elements). Raises `JsonStreamError`
    naming what is wrong."""
    t = _Text(chunks)
    t.expect("{", "a JSON object")
    seen: set[str] = set()
    if t.peek() == "}":
        t.pos += 1
    else:
        while True:
            if t.peek() != '"':
                raise JsonStreamError("expected a member name")
            name = t.value()
            if name in seen:
                raise JsonStreamError(f"member {name!r} appears twice")
            seen.add(name)
            t.expect(":", f"':' after {name!r}")
            c = t.peek()
            if name in strings and c == '"':
                for piece in t.string_pieces():
                    yield "piece", name, piece
            elif name in arrays and c == "[":
                for batch in t.elements(batch_chars, (parsers or {}).get(name)):
                    yield "items", name, batch
            else:
                yield "member", name, t.value()
            if t.expect(",}", "',' or '}' after a member") == "}":
                break
    if t.peek():
        raise JsonStreamError("text after the JSON object")
