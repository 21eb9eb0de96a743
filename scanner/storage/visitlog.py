"""The durable visit log: every decision at the gate becomes one row that survives power loss.

SQLite in WAL mode with `synchronous=FULL`, so `append()` returns only once the row is on disk;
`hand_off()` returns at once and appends on the log's writer thread (`scanner.storage.handoff`: at most
one visit in flight, every read waits for it). The
visit row and its sync-outbox row are written in one transaction; the sync agent (another process)
reads the outbox and deletes outbox rows only after the hub acknowledged them. Rows form a hash chain
(canonical encoding documented in `scanner/storage/chain.py`) so that edits and deletions are
detectable; `checkpoint log verify` checks it.

No names are stored: the masked name of a code is for the screen only. A row holds pseudonyms (the
issuer's subject pseudonym and the code id), the verdict and the decision.

Retention purges synced rows older than `log.retention_days`; unsynced rows are never purged. The
storage cap (`log.storage_cap_mb`) stops appends at the cap with a clear `StorageError` instead of
filling the disk; SQLite's `max_page_count` is set a little above it, so recording uploads and purging
still work on a full log (that is how it recovers). `storage()` raises the alarm at
`log.storage_alarm_percent` of the cap, long before that.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from keys.durable import SchemaTooNew, connect, damaged, file_identity, immediate_transaction, migrate
from scanner.errors import CheckpointError, InputError, StorageError
from scanner.storage.chain import (
    DECIDED_BY,
    DRUG_CATEGORIES,
    GENESIS,
    ROW_FIELDS,
    SCHOOL_ROLES,
    ChainedVisitRow,
    chain_hash,
    validate_extra,
)
from scanner.storage.damagenote import damage_noted, note_damage
from scanner.storage.handoff import Handed, HandOff
from scanner.storage.logaudit import ChainReport, audit_chain
from scanner.storage.logexport import write_export
from scanner.storage.recovered import RecoveredVisits
from scanner.storage.schema import MIGRATIONS
from scanner.storage.visitrecord import VisitRecord, row_from_sql

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes


DISK_FREE_ALARM_BYTES = 64 * 1024 * 1024
_INSERT = f"INSERT INTO visits ({', '.join(ROW_FIELDS)}) VALUES ({', '.join('?' * len(ROW_FIELDS))})"


@dataclass(frozen=True)
class StoredVisit:
    seq: int
    visit_id: str
    chain: str


@dataclass(frozen=True)
class Checkpoint:
    """A signed head of the chain: the device key's signature over `checkpoint_message`."""

    seq: int
    chain: str
    signature: str
    signed_at_ms: int

# How many signed checkpoints a log keeps (the newest vouches for everything before it).
CHECKPOINTS_KEPT = 64


@dataclass(frozen=True)
class StorageState:
    used_bytes: int
    cap_bytes: int
    percent: float
    disk_free_bytes: int
    alarm: bool
    full: bool
    message: str
    damage: str = ""  # a damaged log's salvage no operator has acknowledged yet (`RecoveredVisits.notice`)

    @property
    def space_alarm(self) -> bool:
        """The cap's or the disk's alarm alone: `message` holds more than the damage notice (which raises
        `alarm` too)."""
        return self.message != self.damage


def _is_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc)


class VisitLog:
    """The visit log in one SQLite file (`visits.sqlite` in the data directory)."""

    def __init__(self, path: str | Path, *, storage_cap_mb: float = 1024, alarm_percent: int = 80,
                 busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self.alarm_percent = alarm_percent
        self._lock = threading.Lock()
        self._full = False
        # Appends handed to the writer thread (`hand_off`); every read and write waits for them first.
        self._handoff: HandOff[VisitRecord] = HandOff(self._append, f"visit log writer {self.path.name}")
        try:
            # synchronous=FULL: append() returns only once the row is on disk.
            self._conn = connect(self.path, synchronous="FULL", timeout=busy_timeout_s, row_factory=True)
            self._conn.execute("PRAGMA foreign_keys=ON")
            migrate(self._conn, MIGRATIONS, name=f"visit log {self.path}")
            self.log_id: str = str(self._conn.execute(
                "SELECT value FROM meta WHERE key = 'log_id'").fetchone()[0])
            self.page_size = self._conn.execute("PRAGMA page_size").fetchone()[0]
            self._file = file_identity(self.path)
            self.set_cap(storage_cap_mb)
            # Visits salvaged from a damaged log set aside, kept here until the hub has them.
            self.recovered = RecoveredVisits(self._conn, self._lock, self.path)
        except SchemaTooNew as e:
            raise StorageError(str(e)) from e
        except sqlite3.Error as e:
            raise StorageError(f"visit log {self.path}: cannot open: {e}") from e

    def set_cap(self, storage_cap_mb: float) -> None:
        """(Re)apply the storage cap; raising it is how a full log recovers."""
        self.cap_bytes = int(storage_cap_mb * 1024 * 1024)
        self._cap_pages = max(self.cap_bytes // self.page_size, 1)
        # Appends stop at the cap; the hard limit above it leaves room to record uploads and purge,
        # so a full log can always be emptied by syncing.
        reserve = max(self._cap_pages // 10, 64)
        self._conn.execute(f"PRAGMA max_page_count = {int(self._cap_pages + reserve)}")
        self._full = False

    def replaced(self) -> bool:
        """Whether the file at `path` is no longer the one open here: another process set it aside as damaged."""
        return file_identity(self.path) != self._file

    def close(self) -> None:
        self._handoff.close()
        with self._lock:
            self._conn.close()

    def __enter__(self) -> VisitLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------------

    def _tail(self) -> tuple[int, str]:
        row = self._conn.execute("SELECT seq, chain FROM visits ORDER BY seq DESC LIMIT 1").fetchone()
        if row is not None:
            return int(row[0]), str(row[1])
        seq, chain = json.loads(self._conn.execute(
            "SELECT value FROM meta WHERE key = 'chain_anchor'").fetchone()[0])
        return int(seq), str(chain)

    def head(self) -> tuple[int, str]:
        """The last row's (seq, chain), or the anchor's when the log is empty."""
        self._handoff.settle()
        with self._lock:
            try:
                return self._tail()
            except sqlite3.Error as e:
                raise self._failed("cannot read", e) from e

    # -- checkpoints and the hub's acknowledgement --------------------------------------------------

    def add_checkpoint(self, seq: int, chain: str, signature: str, at: float | None = None) -> None:
        """Keep a signed head; older ones beyond `CHECKPOINTS_KEPT` are dropped."""
        at_ms = int((time.time() if at is None else at) * 1000)
        self._handoff.settle()
        with self._lock:
            try:
                with immediate_transaction(self._conn):
                    self._conn.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)",
                                       (seq, chain, signature, at_ms))
                    self._conn.execute("DELETE FROM checkpoints WHERE seq NOT IN (SELECT seq FROM checkpoints "
                                       "ORDER BY seq DESC LIMIT ?)", (CHECKPOINTS_KEPT,))
            except sqlite3.Error as e:
                raise self._failed("cannot record a checkpoint", e) from e

    def last_checkpoint(self) -> Checkpoint | None:
        r = self._read("SELECT seq, chain, signature, signed_at_ms FROM checkpoints ORDER BY seq DESC "
                       "LIMIT 1").fetchone()
        return Checkpoint(*r) if r else None

    def set_hub_ack(self, last_seq: int, last_chain: str | None) -> None:
        """Record what the hub holds of this log (it never shrinks)."""
        held = self.hub_ack()
        if held is not None and held[0] >= last_seq:
            return
        with self._lock:
            try:
                with immediate_transaction(self._conn):
                    self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('hub_ack', ?)",
                                       (json.dumps([last_seq, last_chain]),))
            except sqlite3.Error as e:
                raise self._failed("cannot record the hub's ack", e) from e

    def hub_ack(self) -> tuple[int, str | None] | None:
        r = self._read("SELECT value FROM meta WHERE key = 'hub_ack'").fetchone()
        if r is None:
            return None
        seq, chain = json.loads(r[0])
        return int(seq), chain

    def hand_off(self, record: VisitRecord,
                 on_error: Callable[[VisitRecord, CheckpointError], None] | None = None) -> Handed[VisitRecord]:
        """Append `record` on the log's writer thread; returns at once (see `scanner.storage.handoff`).

        Only the visit handed over before is waited for, so at most one shown decision is ever not yet
        on disk. `on_error` (on the writer thread) hears of a visit that could not be stored; the
        returned `Handed` says when this one is durable.
        """
        return self._handoff.hand(record, on_error)

    def append(self, record: VisitRecord) -> StoredVisit:
        """Write the visit and its outbox entry in one transaction; return once committed to disk."""
        self._handoff.settle()  # after the visits handed over before it: the chain keeps their order
        return self._append(record)

    def _append(self, record: VisitRecord) -> StoredVisit:
        row = asdict(record)
        row["extra"] = validate_extra(row["extra"])
        if row["decided_by"] not in (None, *DECIDED_BY) or row["gate"] not in (None, "open", "failed"):
            raise InputError(f"visit {record.visit_id}: decided_by {row['decided_by']!r} / gate {row['gate']!r}")
        with self._lock:
            try:
                with immediate_transaction(self._conn):
                    used = (self._conn.execute("PRAGMA page_count").fetchone()[0]
                            - self._conn.execute("PRAGMA freelist_count").fetchone()[0])
                    if used >= self._cap_pages:
                        raise sqlite3.OperationalError("database or disk is full (storage cap reached)")
                    last_seq, prev = self._tail()
                    row["seq"] = last_seq + 1
                    row["prev_chain"] = prev
                    row["chain"] = chain_hash(prev, row)
                    values = [json.dumps(row["extra"], sort_keys=True, ensure_ascii=False) if name == "extra"
                              else row[name] for name in ROW_FIELDS]
                    self._conn.execute(_INSERT, values)
                    self._conn.execute("INSERT INTO outbox (seq, visit_id) VALUES (?, ?)",
                                       (row["seq"], row["visit_id"]))
            except sqlite3.IntegrityError as e:
                raise InputError(f"visit {record.visit_id}: already logged ({e})") from e
            except sqlite3.Error as e:
                if _is_full(e):
                    self._full = True
                    raise StorageError(f"visit log {self.path}: storage full, visit not logged") from e
                raise self._failed("cannot write", e) from e
        self._full = False
        return StoredVisit(row["seq"], row["visit_id"], row["chain"])

    # -- sync outbox --------------------------------------------------------------------------------

    def pending(self, limit: int, after_seq: int = 0) -> list[ChainedVisitRow]:
        """Up to `limit` not-yet-acknowledged rows, oldest first, as upload dictionaries."""
        cur = self._read(
            f"SELECT {', '.join('v.' + f for f in ROW_FIELDS)} FROM outbox o JOIN visits v ON v.seq = o.seq "
            "WHERE o.seq > ? ORDER BY o.seq LIMIT ?", (after_seq, limit))
        return [row_from_sql(r) for r in cur]

    def pending_count(self) -> int:
        """Visits the hub has not acknowledged: the outbox and the visits recovered from a damaged log."""
        return int(self._read("SELECT COUNT(*) FROM outbox").fetchone()[0]) + self.recovered.pending_count()

    def mark_synced(self, visit_ids: Sequence[str], at: float | None = None) -> int:
        """Record the hub's acknowledgement: drop the outbox rows, stamp the visits; one transaction."""
        at_ms = int((time.time() if at is None else at) * 1000)
        done = 0
        self._handoff.settle()
        with self._lock:
            try:
                with immediate_transaction(self._conn):
                    for i in range(0, len(visit_ids), 500):
                        chunk = list(visit_ids[i:i + 500])
                        marks = ", ".join("?" * len(chunk))
                        self._conn.execute(f"UPDATE visits SET synced_at_ms = ? WHERE visit_id IN ({marks}) "
                                           "AND synced_at_ms IS NULL", [at_ms, *chunk])
                        # By seq (the outbox's key): a scan by visit id would read the whole backlog.
                        done += self._conn.execute(
                            f"DELETE FROM outbox WHERE seq IN (SELECT seq FROM visits WHERE visit_id IN ({marks}))",
                            chunk).rowcount
            except sqlite3.Error as e:
                raise self._failed("cannot record the upload", e) from e
        return done

    def purge(self, retention_days: int, now: float | None = None) -> int:
        """Delete synced rows older than the retention; the chain anchor moves with them."""
        cutoff = int(((time.time() if now is None else now) - retention_days * 86400) * 1000)
        self._handoff.settle()
        with self._lock:
            try:
                with immediate_transaction(self._conn):
                    # Only a prefix of the chain may go: stop at the first row that must stay.
                    keep = self._conn.execute(
                        "SELECT MIN(seq) FROM visits WHERE synced_at_ms IS NULL OR ts_ms >= ? "
                        "OR seq IN (SELECT seq FROM outbox)", (cutoff,)).fetchone()[0]
                    bound = "seq < ?" if keep is not None else "seq <= (SELECT MAX(seq) FROM visits)"
                    args: tuple[int, ...] = (keep,) if keep is not None else ()
                    last = self._conn.execute(f"SELECT seq, chain FROM visits WHERE {bound} "
                                              "ORDER BY seq DESC LIMIT 1", args).fetchone()
                    gone = 0
                    if last is not None:
                        gone = self._conn.execute(f"DELETE FROM visits WHERE {bound}", args).rowcount
                        self._conn.execute("UPDATE meta SET value = ? WHERE key = 'chain_anchor'",
                                           (json.dumps([last[0], last[1]]),))
            except sqlite3.Error as e:
                raise self._failed("cannot purge", e) from e
        if gone:
            self._full = False
        return gone

    # -- reading ------------------------------------------------------------------------------------

    def _failed(self, what: str, e: sqlite3.Error) -> StorageError:
        """The error for a failed operation; a damaged file is noted for the next start (`damagenote`)."""
        if damaged(e):
            note_damage(self.path, f"{what}: {e}")
        return StorageError(f"visit log {self.path}: {what}: {e}")

    def _read(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        self._handoff.settle()
        with self._lock:
            try:
                return self._conn.execute(sql, args)
            except sqlite3.Error as e:
                raise self._failed("cannot read", e) from e

    def rows(self, since_ms: int | None = None) -> Iterator[ChainedVisitRow]:
        """Every row (oldest first), optionally from a time on; read in pages to bound memory."""
        after = 0
        while True:
            cur = self._read(f"SELECT {', '.join(ROW_FIELDS)} FROM visits WHERE seq > ? AND ts_ms >= ? "
                             "ORDER BY seq LIMIT 1000", (after, since_ms if since_ms is not None else -2**62))
            try:
                batch = cur.fetchall()
            except sqlite3.Error as e:
                raise self._failed("cannot read", e) from e
            if not batch:
                return
            for r in batch:
                yield row_from_sql(r)
            after = batch[-1]["seq"]

    def count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM visits").fetchone()[0])

    def verify(self, public_key: CertificatePublicKeyTypes | None = None, device_id: str | None = None) -> ChainReport:
        """Walk the whole chain and hold it against its checkpoints (`scanner.storage.logaudit`)."""
        self._handoff.settle()
        return audit_chain(self.path, self.log_id, public_key, device_id)

    def integrity_check(self, *, quick: bool = False) -> str:
        """"ok", or SQLite's first finding (`quick`: without checking indexes against their tables)."""
        try:
            return str(self._read(f"PRAGMA {'quick_check' if quick else 'integrity_check'}").fetchone()[0])
        except sqlite3.Error as e:
            raise self._failed("cannot read", e) from e

    def storage(self) -> StorageState:
        """How full the log is against its cap, and whether the operator must be alarmed."""
        # Pages holding data count, not file sizes: purged pages are reused, and the WAL file keeps its
        # size after checkpoints (SQLite bounds it at about 1000 pages).
        self._handoff.settle()
        with self._lock:
            pages = (self._conn.execute("PRAGMA page_count").fetchone()[0]
                     - self._conn.execute("PRAGMA freelist_count").fetchone()[0])
        used = int(pages) * self.page_size
        free = shutil.disk_usage(self.path.parent).free
        percent = 100.0 * used / self.cap_bytes if self.cap_bytes else 100.0
        full = self._full or pages >= self._cap_pages
        if full:
            message = "visit log full: visits are not being logged"
        elif percent >= self.alarm_percent:
            message = f"visit log {percent:.0f}% of its storage cap: sync or export and purge"
        elif free < DISK_FREE_ALARM_BYTES:
            message = f"disk almost full: {free // (1024 * 1024)} MB free"
        else:
            message = ""
        noted = damage_noted(self.path)
        damage = "; ".join(filter(None, (
            noted and f"visit log damaged ({noted}): restart to set it aside and salvage its visits",
            self.recovered.notice())))
        message = "; ".join(m for m in (damage, message) if m)
        return StorageState(used, self.cap_bytes, round(percent, 1), free, bool(message), full, message, damage)

    def export(self, out: TextIO, *, fmt: str = "jsonl", since_ms: int | None = None) -> int:
        """Write rows as JSON lines or CSV (`extra` as a JSON string), then the visits recovered from a damaged
        log (`scanner.storage.logexport`); return how many were written."""
        return write_export(out, self.rows(since_ms), self.recovered.rows(since_ms), fmt=fmt)


__all__ = ["DRUG_CATEGORIES", "GENESIS", "SCHOOL_ROLES", "ChainReport", "Checkpoint", "StorageState",
           "StoredVisit", "VisitLog", "VisitRecord", "validate_extra"]
