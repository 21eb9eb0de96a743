"""Visits recovered from a damaged visit log, held in the new log until the hub acknowledges them, and the
notice that says so until an operator acknowledges it.

`scanner.storage.salvage` reads what it can from a damaged log set aside; `RecoveredVisits.add` keeps
the result in the new log's `salvages` and `recovered` tables (one transaction). The recovered rows are
kept verbatim, under the damaged log's id and their own seq: they are not part of the new log's hash
chain (which `checkpoint log verify` checks as before), and the sync agent uploads them as a batch of
that log, marked as recovered, so the hub stores each one once whatever it held before.

The notice (`notice()`) names the file, how many visits were recovered and how many could not be read.
It is a storage problem on the kiosk, the gate, `checkpoint sync --status` and the device health sent to
the hub until `checkpoint log acknowledge` (`acknowledge()`) records that an operator has seen it: it lives
in the log, so a restart does not clear it, and an acknowledgement does, once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from keys.durable import immediate_transaction
from scanner.errors import StorageError
from scanner.storage.chain import ChainedVisitRow

if TYPE_CHECKING:
    from scanner.storage.salvage import Salvage

ACKNOWLEDGE_COMMAND = "checkpoint log acknowledge"
T = TypeVar("T")


@dataclass(frozen=True)
class SalvageRecord:
    """One salvage as kept in the log."""

    id: int
    source: str
    log_id: str | None
    at_ms: int
    recovered: int
    already_synced: int
    kept: int
    altered: int
    unreadable: int
    missing_pages: int
    complete: bool
    problem: str | None
    acknowledged_ms: int | None
    pending: int  # of the kept rows, how many the hub has not acknowledged yet

    def text(self) -> str:
        """The notice in plain words."""
        if self.problem and not self.recovered:
            words = f"visit log damaged ({self.source}): no visit read ({self.problem})"
        else:
            words = (f"visit log damaged ({self.source}): {self.recovered} visits recovered, "
                     f"{self.unreadable} could not be read")
            if self.missing_pages:
                words += f" (and the file is cut short: {self.missing_pages} pages lost, their visits uncounted)"
            if self.altered:
                words += f", {self.altered} changed by the damage (sent flagged)"
            words += f"; {self.pending} still to upload" if self.pending else "; all recovered visits uploaded"
        if not self.complete:
            words += f"; salvage stopped early: run `checkpoint log salvage {self.source}`"
        return words


class RecoveredVisits:
    """The recovered visits and salvage notices of one visit log (its connection and lock)."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock, path: Path):
        self._conn = conn
        self._lock = lock
        self.path = path

    def _run(self, what: str, fn: Callable[[], T]) -> T:
        with self._lock:
            try:
                return fn()
            except sqlite3.Error as e:
                raise StorageError(f"visit log {self.path}: cannot {what}: {e}") from e

    def add(self, s: Salvage, at: float | None = None) -> int:
        """Keep a salvage and its rows (one transaction); how many rows were new (a file salvaged again
        adds only the rows not kept yet)."""
        at_ms = int((time.time() if at is None else at) * 1000)
        log_id = s.upload_log_id

        def write() -> int:
            with immediate_transaction(self._conn):
                cur = self._conn.execute(
                    "INSERT INTO salvages (source, log_id, at_ms, recovered, already_synced, kept, altered, "
                    "unreadable, missing_pages, complete, problem) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (s.source, log_id if s.rows or s.log_id else None, at_ms, s.recovered, s.already_synced,
                     len(s.rows) + len(s.carried), s.altered, s.unreadable, s.missing_pages, int(s.complete),
                     s.problem))
                new = 0
                for lid, row in [*((log_id, r) for r in s.rows), *s.carried]:
                    new += self._conn.execute(
                        "INSERT OR IGNORE INTO recovered (log_id, seq, visit_id, row, salvage) VALUES (?, ?, ?, ?, ?)",
                        (lid, row["seq"], row["visit_id"], json.dumps(row, ensure_ascii=False, sort_keys=True),
                         cur.lastrowid)).rowcount
                return new
        return self._run("keep the recovered visits", write)

    def pending(self, limit: int, device_id: str | None = None) -> tuple[str, list[ChainedVisitRow]] | None:
        """Up to `limit` recovered rows the hub has not acknowledged, of one log, oldest first: (log id, rows);
        only the visits of `device_id`, if given."""
        of, args = ("AND json_extract(row, '$.device_id') = ?", (device_id,)) if device_id is not None else ("", ())

        def read() -> tuple[str, list[ChainedVisitRow]] | None:
            first = self._conn.execute(f"SELECT log_id FROM recovered WHERE synced_at_ms IS NULL {of} "
                                       "ORDER BY log_id, seq LIMIT 1", args).fetchone()
            if first is None:
                return None
            rows = self._conn.execute(f"SELECT row FROM recovered WHERE synced_at_ms IS NULL AND log_id = ? {of} "
                                      "ORDER BY seq LIMIT ?", (first[0], *args, limit)).fetchall()
            return str(first[0]), [cast("ChainedVisitRow", json.loads(r[0])) for r in rows]
        return self._run("read the recovered visits", read)

    def rows(self, since_ms: int | None = None) -> Iterator[tuple[str, ChainedVisitRow]]:
        """Every recovered row kept (uploaded or not), as (log id, row), by log and seq, from a time on; read
        in pages to bound memory."""
        def page_after(after: tuple[str, int]) -> list[sqlite3.Row]:
            return self._run("read the recovered visits", lambda: self._conn.execute(
                "SELECT log_id, seq, row FROM recovered WHERE (log_id, seq) > (?, ?) ORDER BY log_id, seq "
                "LIMIT 1000", after).fetchall())

        after: tuple[str, int] = ("", 0)
        while True:
            page = page_after(after)
            if not page:
                return
            for lid, _, text in page:
                row = cast("ChainedVisitRow", json.loads(text))
                if since_ms is None or row["ts_ms"] >= since_ms:
                    yield str(lid), row
            after = (str(page[-1][0]), int(page[-1][1]))

    def pending_count(self) -> int:
        return int(self._run("read the recovered visits", lambda: self._conn.execute(
            "SELECT COUNT(*) FROM recovered WHERE synced_at_ms IS NULL").fetchone()[0]))

    def of_other_devices(self, device_id: str) -> dict[str, int]:
        """How many recovered rows the hub has not acknowledged are visits of a device other than `device_id`
        (a damaged log copied from another device), by device."""
        return dict(self._run("read the recovered visits", lambda: self._conn.execute(
            "SELECT json_extract(row, '$.device_id') AS device, COUNT(*) FROM recovered WHERE synced_at_ms IS NULL "
            "AND device IS NOT ? GROUP BY device ORDER BY device", (device_id,)).fetchall()))

    def mark_synced(self, log_id: str, visit_ids: Sequence[str], at: float | None = None) -> int:
        """Record the hub's acknowledgement of recovered rows of `log_id`."""
        at_ms = int((time.time() if at is None else at) * 1000)

        def write() -> int:
            done = 0
            with immediate_transaction(self._conn):
                for i in range(0, len(visit_ids), 500):
                    chunk = list(visit_ids[i:i + 500])
                    done += self._conn.execute(
                        f"UPDATE recovered SET synced_at_ms = ? WHERE log_id = ? AND synced_at_ms IS NULL "
                        f"AND visit_id IN ({', '.join('?' * len(chunk))})", [at_ms, log_id, *chunk]).rowcount
            return done
        return self._run("record the upload of recovered visits", write)

    def salvages(self, *, unacknowledged: bool = False) -> list[SalvageRecord]:
        """The salvages kept, oldest first (only those no operator acknowledged yet, if asked)."""
        where = "WHERE s.acknowledged_ms IS NULL" if unacknowledged else ""

        def read() -> list[SalvageRecord]:
            rows = self._conn.execute(
                "SELECT s.id, s.source, s.log_id, s.at_ms, s.recovered, s.already_synced, s.kept, s.altered, "
                "s.unreadable, s.missing_pages, s.complete, s.problem, s.acknowledged_ms, "
                "(SELECT COUNT(*) FROM recovered r "
                f"WHERE r.log_id = s.log_id AND r.synced_at_ms IS NULL) FROM salvages s {where} "
                "ORDER BY s.id").fetchall()
            return [SalvageRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], bool(r[10]), r[11],
                                  r[12], r[13]) for r in rows]
        return self._run("read the salvages", read)

    def notice(self) -> str:
        """The storage problem to show until an operator acknowledges it; "" when there is none."""
        # A file salvaged again (the start-up's bounded salvage, then the command) is told by its latest salvage.
        latest = {s.source: s for s in self.salvages(unacknowledged=True)}
        if not latest:
            return ""
        return "; ".join(s.text() for s in latest.values()) + f" (clear with `{ACKNOWLEDGE_COMMAND}`)"

    def acknowledge(self, at: float | None = None) -> int:
        """An operator has seen the notices: they are no longer shown. How many were acknowledged."""
        at_ms = int((time.time() if at is None else at) * 1000)

        def write() -> int:
            with immediate_transaction(self._conn):
                return int(self._conn.execute("UPDATE salvages SET acknowledged_ms = ? WHERE acknowledged_ms IS NULL",
                                              (at_ms,)).rowcount)
        return self._run("record the acknowledgement", write)
