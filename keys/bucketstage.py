"""A status list's subject entries staged on disk in buckets by key, then handed on sorted, a bucket at a time.

A province's list holds millions of entries in no particular order, while the held list is a B-tree in key
order: inserted in list order each row lands on a random page, and having SQLite sort the whole list first
costs about as much again as staging it. Instead, as the list is read, its entries are spread over
`BUCKETS` anonymous temporary files by the first byte of their pseudonym (pseudonyms are hashes, so the
buckets fill about equally). Once the list verified, each bucket is read back and sorted by numpy; bucket
after bucket, the whole list comes out in key order while only one bucket is in memory at a time, so
memory stays flat however long the list. The sort is stable, so of a subject listed twice the later entry
wins, as it would in list order. The files vanish with the process, however it ends.

A list of up to `IN_MEMORY` entries (a delta, a bootstrap list given to `checkpoint check`) is kept in
memory and sorted by Python: numpy is imported only for a longer one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from typing import IO, TYPE_CHECKING, Any

from keys.frozen import frozen
from keys.packedrows import SINCE_DIGITS, PackedSubjects, SubjectRow

if TYPE_CHECKING:
    import numpy as np

BUCKETS = 256
# Entries held in memory before they go to the bucket files.
IN_MEMORY = 1 << 16
_ZERO = b"0"
_NEVER = b"-"  # no status is written so: nothing is cleared


@cache
def _record() -> np.dtype[Any]:
    import numpy as np

    return np.dtype([("sub", "V16"), ("s", "S1"), ("sd", f"S{SINCE_DIGITS}")])


@frozen
class SortedRun:
    """One bucket's entries in key order, as `PackedSubjects` are packed (`sinces` `SINCE_DIGITS` bytes each):
    each subject whose last entry's status is not 0 (any status, for a snapshot), with that entry; `cleared`
    holds, 16 bytes each, the subjects whose last entry's status is 0 (in a delta they return to green)."""

    count: int
    subs: bytes
    statuses: bytes
    sinces: bytes
    cleared: bytes


class BucketStage:
    """Entries added in list order (`add`), taken back sorted (`runs`); `close` removes the files."""

    def __init__(self, directory: str | None = None):
        self._directory = directory
        self._held: list[PackedSubjects] = []
        self._files: list[IO[bytes] | None] | None = None  # once the entries outgrew memory
        self.count = 0

    def __enter__(self) -> BucketStage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for f in self._files or ():
            if f is not None:
                f.close()
        self._files, self._held = None, []

    def add(self, batch: PackedSubjects | Iterable[SubjectRow]) -> None:
        if not isinstance(batch, PackedSubjects):
            rows = list(batch)
            batch = PackedSubjects(len(rows), b"".join(r[0] for r in rows), bytes(48 + r[1] for r in rows),
                                   "".join([str(r[2]).zfill(SINCE_DIGITS) for r in rows]).encode("ascii"),
                                   SINCE_DIGITS)
        if not batch.count:
            return
        self.count += batch.count
        if self._files is None:
            self._held.append(batch)
            if self.count <= IN_MEMORY:
                return
            self._files = [None] * BUCKETS
            held, self._held = self._held, []
            for b in held:
                self._spill(b)
        else:
            self._spill(batch)

    def _spill(self, batch: PackedSubjects) -> None:
        import tempfile  # like numpy, only for a list too long for memory

        import numpy as np

        assert self._files is not None
        records = np.empty(batch.count, _record())
        records["sub"] = np.frombuffer(batch.subs, "V16")
        records["s"] = np.frombuffer(batch.statuses, "S1")
        records["sd"] = np.frombuffer(batch.sinces, f"S{batch.width}")
        first = np.frombuffer(batch.subs, np.uint8)[::16]
        order = np.argsort(first, kind="stable")  # stable: list order within a bucket
        records, first = records[order], first[order]
        bounds = np.searchsorted(first, np.arange(BUCKETS + 1))
        for b in np.flatnonzero(bounds[1:] > bounds[:-1]).tolist():
            f = self._files[b]
            if f is None:
                f = self._files[b] = tempfile.TemporaryFile(dir=self._directory)  # noqa: SIM115 (closed in close)
            f.write(records[bounds[b]:bounds[b + 1]].tobytes())

    def runs(self, *, keep_green: bool = False) -> Iterator[SortedRun]:
        """Every bucket's entries, sorted, in key order (one run for entries held in memory). With `keep_green`
        (a snapshot's entries) a subject whose last entry has status 0 is listed with it, not cleared."""
        if self._files is None:
            if self._held:
                yield self._sorted_in_memory(keep_green)
            return
        import numpy as np

        for f in self._files:
            if f is None:
                continue
            f.seek(0)
            records = np.frombuffer(f.read(), _record())
            # The pseudonym as two big-endian integers: their order is the byte order SQLite keeps.
            halves = np.ascontiguousarray(records["sub"]).view(">u8").reshape(-1, 2).astype(np.uint64)
            order = np.lexsort((halves[:, 1], halves[:, 0]))  # stable: the later of equal entries stays later
            records, halves = records[order], halves[order]
            last = np.ones(len(records), bool)  # the last entry of each subject, a status 0 one too
            last[:-1] = (halves[1:] != halves[:-1]).any(axis=1)
            records = records[last]
            cleared = records["s"] == (_NEVER if keep_green else _ZERO)
            listed = records[~cleared]
            yield SortedRun(len(listed), np.ascontiguousarray(listed["sub"]).tobytes(), listed["s"].tobytes(),
                            listed["sd"].tobytes(), np.ascontiguousarray(records["sub"][cleared]).tobytes())

    def _sorted_in_memory(self, keep_green: bool) -> SortedRun:
        # Of a subject listed twice the later entry, a status 0 one too.
        latest = {sub: (s, sd) for batch in self._held for sub, s, sd in batch}
        subs = sorted(sub for sub, (s, _) in latest.items() if s or keep_green)
        return SortedRun(len(subs), b"".join(subs), bytes(48 + latest[sub][0] for sub in subs),
                         b"".join([str(latest[sub][1]).encode().ljust(SINCE_DIGITS, b"\0") for sub in subs]),
                         b"".join(sorted(sub for sub, (s, _) in latest.items() if not (s or keep_green))))
