"""A status list's subject entries in the form its publisher writes them, checked and packed a batch at a time.

A province's list holds millions of entries, and parsing each one into a dict, then a tuple, then binding
it to SQLite costs several microseconds apiece. Almost every list is written in one compact form
(`{"sub":"<Base64 of 16 bytes>","s":1,"sd":1767220000}`, joined by commas, as `keys.publishing` writes it).
`packed_subjects` recognises a run of such entries with regular expressions (matched in C over the whole
batch) and packs them into three byte strings: the pseudonyms end to end, one digit per status, and each
`sd` as decimal digits of one width (as written when they are all as long, as is usual, else zero-padded).
SQLite cuts the rows out of those itself (`keys.statusstore`).

An entry in any other form (spaces, another member order, an escape, an `sd` of 19 digits) ends the run:
the caller parses what is left with `json` and checks it entry by entry, so both paths accept exactly the
same entries with the same values, and every refusal still names its entry.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator

from keys.frozen import frozen

# (pseudonym, status, since) as listed; status 0 returns a subject to green.
SubjectRow = tuple[bytes, int, int]

# Digits of a packed `sd`: up to 18 digits always fit a signed 64-bit integer (`INT_MAX` is 19 digits).
SD_DIGITS = 18
# Digits of a staged `sd` (`keys.bucketstage`): every integer from 0 to 2^63-1, left-aligned and padded with
# NUL bytes, which SQLite's CAST reads as the number before them.
SINCE_DIGITS = 19
_ENTRY = r'\{"sub":"[A-Za-z0-9+/]{22}==","s":[0-2],"sd":(?:0|[1-9][0-9]{0,' + str(SD_DIGITS - 1) + r'})\}'
_RUN = re.compile(f"{_ENTRY}(?:,{_ENTRY})*")
_SUBS = re.compile(r'\{"sub":"([^"]*)"')
_STATUSES = re.compile(r'","s":([0-2]),')
_SINCES = re.compile(r',"sd":([0-9]+)\}')


@frozen
class PackedSubjects:
    """`count` checked entries: `subs` 16 bytes each, `statuses` one ASCII digit each, `sinces` `width` ASCII
    digits each."""

    count: int
    subs: bytes
    statuses: bytes
    sinces: bytes
    width: int

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[SubjectRow]:
        w = self.width
        for i in range(self.count):
            yield (self.subs[16 * i:16 * i + 16], self.statuses[i] - 48, int(self.sinces[w * i:w * i + w]))


def packed_subjects(window: str) -> tuple[int, PackedSubjects] | None:
    """The longest run of whole entries in the compact form at the start of `window` that is followed by a
    comma, as (its length in characters, the packed entries); None when there is none."""
    m = _RUN.match(window)
    if m is None:
        return None
    end = m.end()
    if window[end:end + 1] != ",":  # the window or the array ends there: keep the last entry for later
        end = window.rfind("},{", 0, end) + 1  # (inside a run, "},{" is always between two entries)
        if end <= 0:
            return None
    run = window[:end]
    # Every pseudonym matched 22 Base64 characters and "==": it decodes, to 16 bytes, strictly or not.
    subs = b"".join(map(binascii.a2b_base64, _SUBS.findall(run)))
    statuses = "".join(_STATUSES.findall(run)).encode("ascii")
    digits = _SINCES.findall(run)
    widths = set(map(len, digits))
    width = widths.pop() if len(widths) == 1 else SD_DIGITS
    sinces = "".join(digits if width != SD_DIGITS else [d.zfill(SD_DIGITS) for d in digits]).encode("ascii")
    return end, PackedSubjects(len(statuses), subs, statuses, sinces, width)
