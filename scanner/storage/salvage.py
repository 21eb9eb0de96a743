"""Reading the visits that can still be read from a damaged visit log (`checkpoint log salvage`, start-up).

A visit log that SQLite calls damaged (a worn SD card, a power cut on a card that lies about fsync) is
set aside as `visits.sqlite.bad-N` (`keys.durable.set_aside_database`). Most of its pages are usually
fine, and the visits on them are contact-tracing data the hub may not hold yet. `salvage` reads them:

* never from the set-aside file itself: it is copied (with its WAL, which holds the newest visits) into
  a temporary folder beside it, and the copy is read; the file stays as it was, for inspection;
* a copy whose 100-byte header is destroyed (zeroed, overwritten) gets a plain header in its place, tried
  with each page size until the schema reads: the pages behind the header are what hold the visits;
* rows are read by ranges of `seq`, the table's rowid. A range that stops on a damaged page is read on
  one seq at a time until a row reads again, so one bad page costs the rows on it, not the rest;
* every row is checked field by field against `VISIT_FIELDS` (a damaged record can read as the wrong
  type) and against its own chain hash: a row whose content no longer matches its hash is kept, counted
  as altered and sent as it is (the hub flags it as a chain break), never repaired;
* rows the hub already acknowledged (`synced_at_ms` set) are counted, not kept again.

`deadline` bounds the time (start-up salvages with a budget, so a huge damaged file cannot stall a
start; `complete` then says it stopped early). The rows keep every original field, their `seq`, chain
hashes and the damaged log's `log_id`: the hub files them under that log, where a row it already holds
is a duplicate, not a second visit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from keys.durable import connect
from scanner.storage.chain import LATER_FIELDS, ROW_FIELDS, VISIT_FIELDS, ChainedVisitRow, chain_hash

log = logging.getLogger(__name__)

_MAGIC = b"SQLite format 3\x00"
_PAGE_SIZES = (4096, 1024, 2048, 8192, 16384, 32768, 65536, 512)
_BATCH = 500
# With no readable highest seq, probing stops after this many seqs in a row that do not read.
_PROBE_LIMIT = 10_000
_HEX = frozenset("0123456789abcdef")


@dataclass
class Salvage:
    """What `salvage` read from one damaged visit log."""

    source: str  # the damaged file's name
    log_id: str | None = None  # the damaged log's id; None when its meta table could not be read
    rows: list[ChainedVisitRow] = field(default_factory=list)  # readable rows the hub has not acknowledged
    # Visits the damaged log itself held as recovered from an earlier damage, not uploaded yet: (log id, row).
    carried: list[tuple[str, ChainedVisitRow]] = field(default_factory=list)
    recovered: int = 0  # rows read, acknowledged ones included
    already_synced: int = 0  # of those, rows the hub had acknowledged
    altered: int = 0  # rows read whose content no longer matches their chain hash (kept, sent, flagged)
    unreadable: int = 0  # rows known to have existed (their seq) that could not be read
    missing_pages: int = 0  # pages the file's header counts beyond its end (cut short): their rows are not counted
    complete: bool = True  # False: stopped at the deadline, run `checkpoint log salvage` for the rest
    problem: str | None = None  # why nothing at all could be read

    @property
    def upload_log_id(self) -> str:
        """The log id the rows go to the hub under: the damaged log's own, or (its meta table unreadable)
        one derived from the first row read, the same for every salvage of the same file."""
        if self.log_id:
            return self.log_id
        first = self.rows[0]["chain"] if self.rows else ""
        return hashlib.sha256(f"recovered-log\n{first}".encode()).hexdigest()[:32]


def salvage(path: Path, *, deadline: float | None = None) -> Salvage:
    """Read every visit that can still be read from the damaged log at `path` (see the module docstring).

    `deadline` is a `time.monotonic()` value. The WAL is looked for under the names the file and it were
    set aside with (`visits.sqlite.bad-1` and `visits.sqlite-wal.bad-1`) or beside it (`<path>-wal`).
    """
    result = Salvage(path.name)
    # Beside the file (same disk, room for a copy); a folder this process may not write (a file on a stick
    # mounted read-only) is read from the system's temporary folder instead.
    beside = path.parent if os.access(path.parent, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix=".salvage-", dir=beside) as tmp:
        copy = Path(tmp) / "visits.sqlite"
        try:
            shutil.copyfile(path, copy)
            wal = _wal_of(path)
            if wal is not None:
                shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        except OSError as e:
            result.problem = f"cannot copy {path.name} to read it: {e.strerror or e}"
            return result
        result.missing_pages = _missing_pages(copy)
        conn = _open_copy(copy, path.name)
        if conn is None:
            result.problem = f"{path.name}: no visits table could be read (the file's schema is destroyed)"
            return result
        try:
            _read(conn, result, deadline)
        finally:
            conn.close()
    return result


def _wal_of(path: Path) -> Path | None:
    name = path.name
    candidates = [path.with_name(name + "-wal")]
    if ".bad-" in name:
        base, n = name.rsplit(".bad-", 1)
        candidates.insert(0, path.with_name(f"{base}-wal.bad-{n}"))
    return next((c for c in candidates if c.is_file()), None)


def _missing_pages(copy: Path) -> int:
    """How many pages the header says the file has beyond its end (0 when the header does not say)."""
    with open(copy, "rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(_MAGIC) or header[24:28] != header[92:96]:
        return 0
    page_size = _stated_page_size(header)
    pages = struct.unpack(">I", header[28:32])[0]
    return max(0, pages - copy.stat().st_size // page_size) if page_size >= 512 else 0


def _stated_page_size(header: bytes) -> int:
    """The page size a database header states (bytes 16-17, where 1 means 65536); 0 when it is too short."""
    if len(header) < 18:
        return 0
    return 65536 if header[16:18] == b"\x00\x01" else int(struct.unpack(">H", header[16:18])[0])


def _open_copy(copy: Path, name: str) -> sqlite3.Connection | None:
    """A connection on the copy whose visits table reads, rewriting a destroyed header if it must."""
    conn = _try_open(copy)
    if conn is not None:
        return conn
    with open(copy, "r+b") as f:
        original = f.read(100)
        wal = copy.with_name(copy.name + "-wal").exists()
        stated = _stated_page_size(original)
        for page_size in sorted(_PAGE_SIZES, key=lambda n: n != stated):
            f.seek(0)
            f.write(_header(page_size, wal, original))
            f.flush()
            conn = _try_open(copy)
            if conn is not None:
                log.warning("%s: the database header was destroyed; read with a %d-byte page header rebuilt",
                            name, page_size)
                return conn
    return None


def _try_open(copy: Path) -> sqlite3.Connection | None:
    try:
        conn = connect(copy, synchronous="OFF", timeout=1.0, row_factory=True)
    except sqlite3.DatabaseError:
        return None
    try:
        conn.execute("SELECT seq FROM visits LIMIT 0").fetchall()
        return conn
    except sqlite3.DatabaseError:
        conn.close()
        return None


def _header(page_size: int, wal: bool, original: bytes) -> bytes:
    """A plain database header: magic, the page size, WAL or rollback, UTF-8, schema format 4."""
    version = 2 if wal else 1
    user_version = struct.unpack(">I", original[60:64])[0] if len(original) == 100 else 0
    return (_MAGIC + struct.pack(">HBBBBBB", 1 if page_size == 65536 else page_size, version, version, 0, 64, 32, 32)
            + struct.pack(">IIIIIIIIIIII", 1, 0, 0, 0, 1, 4, 0, 0, 1, user_version, 0, 0)
            + bytes(20) + struct.pack(">II", 1, 3040001))


def _try(conn: sqlite3.Connection, sql: str) -> object:
    try:
        row = conn.execute(sql).fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row is not None else None


def _read(conn: sqlite3.Connection, result: Salvage, deadline: float | None) -> None:
    try:
        have = {str(r[1]) for r in conn.execute("PRAGMA table_info(visits)")}
    except sqlite3.DatabaseError:
        have = set(ROW_FIELDS)
    columns = [c for c in (*ROW_FIELDS, "synced_at_ms") if c in have]
    lid = _try(conn, "SELECT value FROM meta WHERE key = 'log_id'")
    result.log_id = lid if isinstance(lid, str) and len(lid) == 32 and _HEX.issuperset(lid) else None
    anchor = _try(conn, "SELECT value FROM meta WHERE key = 'chain_anchor'")
    try:
        first = int(json.loads(anchor)[0]) + 1 if isinstance(anchor, str) else None
    except (ValueError, TypeError, IndexError, KeyError):
        first = None
    # The highest seq the file knows of (a truncated file may still hold its outbox or checkpoints).
    highest = [h for h in (_try(conn, f"SELECT MAX(seq) FROM {t}") for t in ("visits", "outbox", "checkpoints"))
               if isinstance(h, int)]
    top = max(highest) if highest else None
    seen: list[int] = []
    for r in _rows(conn, f"SELECT {', '.join(columns)} FROM visits", "seq", top, deadline, result):
        seq = r["seq"] if isinstance(r["seq"], int) else None
        row = _checked(r, columns)
        if row is None or seq is None:
            continue
        seen.append(seq)
        result.recovered += 1
        if chain_hash(row["prev_chain"], row) != row["chain"]:
            result.altered += 1
        if "synced_at_ms" in columns and r["synced_at_ms"] is not None:
            result.already_synced += 1
        else:
            result.rows.append(row)
    if seen or top is not None:
        lo = first if first is not None else (min(seen) if seen else 1)
        hi = max([*seen, top or 0])
        result.unreadable = max(0, hi - lo + 1 - sum(1 for s in seen if lo <= s <= hi))
    _carried(conn, result, deadline)


def _carried(conn: sqlite3.Connection, result: Salvage, deadline: float | None) -> None:
    """The damaged log's own recovered visits not uploaded yet (a second damage before they went)."""
    top = _try(conn, "SELECT MAX(rowid) FROM recovered")
    if not isinstance(top, int):
        return
    for r in _rows(conn, "SELECT rowid, log_id, row, synced_at_ms FROM recovered", "rowid", top, deadline, result):
        lid = r["log_id"]
        try:
            doc = json.loads(r["row"]) if isinstance(r["row"], str) else None
        except ValueError:
            doc = None
        row = _checked(doc, list(ROW_FIELDS)) if isinstance(doc, dict) and doc.keys() >= set(ROW_FIELDS) else None
        if row is None or not isinstance(lid, str) or len(lid) != 32 or not _HEX.issuperset(lid):
            result.unreadable += 1
        elif r["synced_at_ms"] is None:
            result.carried.append((lid, row))


def _rows(conn: sqlite3.Connection, select: str, key: str, top: int | None, deadline: float | None,
          result: Salvage) -> Iterator[sqlite3.Row]:
    """Rows by `key` (the rowid, selected first), in order; a damaged range is stepped over one key at a time."""
    after = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            result.complete = False
            return
        got = 0
        try:
            for r in conn.execute(f"{select} WHERE {key} > ? ORDER BY {key} LIMIT {_BATCH}", (after,)):
                seq = r[0]
                if not isinstance(seq, int) or seq <= after:
                    # A damaged page pointing back into the tree: the scan would go round in circles.
                    raise ValueError(f"seq {seq!r} after {after}")
                got += 1
                after = seq
                yield r
        except (sqlite3.DatabaseError, ValueError, TypeError):
            pass  # a damaged page in this range: step over it below
        else:
            if got == _BATCH:
                continue
            if top is None or after >= top:
                return
        # Step seq by seq past the damage: a point lookup reaches rows the range scan could not.
        misses = 0
        while True:
            after += 1
            if (top is not None and after > top) or (top is None and misses >= _PROBE_LIMIT):
                return
            if deadline is not None and time.monotonic() > deadline:
                result.complete = False
                return
            try:
                r = conn.execute(f"{select} WHERE {key} = ?", (after,)).fetchone()
            except (sqlite3.DatabaseError, ValueError, TypeError):
                r = None
            if r is not None:
                yield r
                break
            misses += 1


def _checked(r: sqlite3.Row | dict[str, object], columns: list[str]) -> ChainedVisitRow | None:
    """The row as the chain and the hub see it, or None when a field is not of its declared type."""
    out: dict[str, object] = {}
    for name, spec in VISIT_FIELDS.items():
        value = r[name] if name in columns else None
        if name not in columns and name not in LATER_FIELDS:
            return None
        typ, nullable = (spec[0], True) if isinstance(spec, tuple) else (spec, False)
        if value is None:
            if not nullable:
                return None
        elif typ is bool:
            if value not in (0, 1) or not isinstance(value, int):
                return None
            value = bool(value)
        elif typ is dict:
            try:
                value = json.loads(value) if isinstance(value, str) else value
            except ValueError:
                return None
            if not isinstance(value, dict):
                return None
        elif type(value) is not typ:
            return None
        out[name] = value
    for name in ("prev_chain", "chain"):
        value = r[name] if name in columns else None
        if not isinstance(value, str) or len(value) != 64 or not _HEX.issuperset(value):
            return None
        out[name] = value
    return cast("ChainedVisitRow", out)
