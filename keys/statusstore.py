"""The status store: synced status lists held in SQLite, per issuer, for offline lookups at the gate.

Snapshots replace everything held for an issuer, and hold an `s: 0` entry as an entry (green since its
`sd`); a delta applies only on top of the version it names as its base (a device at another version must
fetch a snapshot), and its `s: 0` returns a subject to green by removing the entry. Revoked code ids are
never dropped by a delta.

A list is read from its file a batch at a time while its signature is computed: its subjects into
buckets on disk (`keys.bucketstage`), its revoked code ids into a TEMP table (a file of the connection's
own, gone with it). Only a list that verified is merged into the held one, in one transaction, bucket
by bucket in key order (each bucket sorted as it is read back), each bucket's rows cut out of packed
bytes by one SQL statement. Memory stays flat however long the list, and a refused, failed or
interrupted apply leaves the previous version whole.

The EU DCC revocation list is held in the same database (`keys.dccrevocationstore`); the records the
store answers with are in `keys.statusrecords`.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from keys import durable
from keys.bucketstage import BucketStage
from keys.dccrevocationstore import DccRevocations
from keys.errors import StatusListError
from keys.jsontypes import JsonObject, SignedJson
from keys.packedrows import SINCE_DIGITS, PackedSubjects, SubjectRow
from keys.statuslist import DCC_REVOCATION_TYP, StatusListDoc, StatusListHead, read_status_list, typ_of
from keys.statusrecords import ApplyResult, IssuerInfo, StatusFacts

if TYPE_CHECKING:
    from keys.trustlist import TrustStore

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
_MIGRATIONS = {
    1: """
        CREATE TABLE issuers (
            issuer TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            issued_at INTEGER NOT NULL,
            next_update INTEGER NOT NULL,
            applied_at REAL NOT NULL
        );
        CREATE TABLE subjects (
            issuer TEXT NOT NULL,
            sub BLOB NOT NULL,
            s INTEGER NOT NULL,
            sd INTEGER NOT NULL,
            PRIMARY KEY (issuer, sub)
        ) WITHOUT ROWID;
        CREATE TABLE revoked (
            issuer TEXT NOT NULL,
            cti BLOB NOT NULL,
            PRIMARY KEY (issuer, cti)
        ) WITHOUT ROWID;
    """,
    # The EU DCC revocation list (keys/dccrevocation.py): one list, replaced whole.
    2: """
        CREATE TABLE dcc_revoked (
            hash BLOB NOT NULL,
            kind TEXT NOT NULL,
            PRIMARY KEY (hash, kind)
        ) WITHOUT ROWID;
        CREATE TABLE dcc_revocation_list (
            one INTEGER PRIMARY KEY CHECK (one = 1),
            version INTEGER NOT NULL,
            issued_at INTEGER NOT NULL,
            next_update INTEGER NOT NULL,
            applied_at REAL NOT NULL
        );
    """,
}
_FACTS_SQL = """
    SELECT i.version, i.issued_at, i.next_update, i.applied_at,
           EXISTS (SELECT 1 FROM revoked WHERE issuer = ?1 AND cti = ?2),
           s.s, s.sd
    FROM (SELECT ?1 AS issuer) AS q
    LEFT JOIN issuers AS i ON i.issuer = q.issuer
    LEFT JOIN subjects AS s ON s.issuer = q.issuer AND s.sub = ?3
"""


# A list's revoked code ids as read, before it verified (its subjects are staged in `keys.bucketstage`);
# and the row numbers 0, 1, 2 ..., by which SQL cuts packed rows out of bytes (a recursive CTE counting
# as it goes costs as much again). They are counted only as far as a list needs, at most COUNTING: a
# one-shot check applying lists of a few entries would otherwise spend more on them than on the lists.
COUNTING = 1 << 14
_STAGING = """
    CREATE TEMP TABLE IF NOT EXISTS staged_revoked (cti BLOB NOT NULL);
    CREATE TEMP TABLE IF NOT EXISTS counting (k INTEGER PRIMARY KEY);
"""
# Adds the row numbers from the first one missing up to :count - 1 (nothing when they are all there).
_COUNT = """
    INSERT INTO temp.counting
    WITH RECURSIVE i(k) AS (SELECT (SELECT count(*) FROM temp.counting) UNION ALL SELECT k + 1 FROM i
                            WHERE k + 1 < :count)
    SELECT k FROM i WHERE k < :count
"""

# Part of a sorted run of a verified list (`keys.bucketstage.SortedRun`), cut into rows by SQLite itself:
# no Python object and no bound parameter per row. In key order, each insert lands next to the last one.
_ROWS = "WITH i(k) AS (SELECT k FROM temp.counting WHERE k < :count) "
_INSERT_RUN = _ROWS + f"""
    INSERT OR REPLACE INTO subjects
    SELECT :issuer, substr(:subs, 16 * k + 1, 16), CAST(substr(:statuses, k + 1, 1) AS INTEGER),
           CAST(substr(:sinces, {SINCE_DIGITS} * k + 1, {SINCE_DIGITS}) AS INTEGER)
    FROM i
"""
_DELETE_CLEARED = _ROWS + """
    DELETE FROM subjects WHERE issuer = :issuer AND sub IN (SELECT substr(:subs, 16 * k + 1, 16) FROM i)
"""


class StatusStore(DccRevocations):
    """Status lists per issuer in one SQLite database (a file, or ":memory:")."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.path = path
        self._conn = conn
        # Why the store started empty (its file was damaged and set aside), or None.
        self.problem: str | None = None
        # One connection serves the pipeline thread and the UI thread: serialise it.
        self._lock = threading.Lock()
        # Rows in temp.counting (see _COUNT), filled outside any transaction so none is rolled back.
        self._counted = 0
        self._facts_cursor = conn.cursor()
        # The row `facts` last read an issuer record from, that record, and the facts of a code of that
        # issuer that is neither revoked nor listed.
        info = IssuerInfo("", 0, 0, 0, 0.0)
        self._last_info: tuple[tuple[object, ...], IssuerInfo, StatusFacts] = ((), info, StatusFacts(info, False, None))

    @classmethod
    def open(cls, path: str | Path = ":memory:") -> StatusStore:
        """Open (creating) the store. A damaged file (a worn SD card, a file that is not SQLite) is set
        aside for inspection and the store starts empty, with `problem` saying so: the lists can always
        be fetched again, and a device must not stop for good over its cache of them."""
        p = str(path)
        judged = None if p == ":memory:" else durable.file_identity(Path(p))
        try:
            return cls._open(p)
        except sqlite3.DatabaseError as e:
            if p == ":memory:" or not durable.damaged(e):
                raise
            kept = durable.set_aside_database(Path(p), judged=judged)
            where = f"kept as {', '.join(kept)}" if kept else "set aside by another process"
            problem = (f"status store {p} was damaged ({e}); {where}, starting empty until the lists are "
                       "fetched again")
        log.error("%s", problem)
        store = cls._open(p)
        store.problem = problem
        return store

    @classmethod
    def _open(cls, p: str) -> StatusStore:
        # The lists can always be fetched again, so NORMAL durability is enough here.
        conn = durable.connect(p, synchronous="NORMAL", timeout=5.0)
        try:
            store = cls(conn, p)
            durable.migrate(conn, [_MIGRATIONS[v] for v in range(1, SCHEMA_VERSION + 1)],
                            name=f"status store {p}")
            conn.executescript(_STAGING)
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        self._conn.close()

    # --- applying lists ---------------------------------------------------------------------------
    def apply(self, doc: SignedJson | StatusListDoc, trust: TrustStore,
              source: str = "<status list>", now: float | None = None,
              progress: Callable[[], object] | None = None) -> ApplyResult:
        """Verify and apply one status list (or the DCC revocation list, told apart by its `typ`) held in
        memory; raise `StatusListError` and change nothing if refused.

        `progress` is called as the work goes on (for each batch of entries read, each bucket merged): a
        province's list takes minutes on a small device, and its service watchdog must hear it lives."""
        if isinstance(doc, StatusListDoc):
            return self.apply_verified(doc, now=now)
        data = json.dumps(doc).encode() if isinstance(doc, dict) else doc.encode() if isinstance(doc, str) else doc
        return self.apply_stream(io.BytesIO(data), trust, source, now=now, progress=progress)

    def apply_file(self, path: str | Path, trust: TrustStore, source: str | None = None,
                   now: float | None = None, progress: Callable[[], object] | None = None, *,
                   only_newer: bool = False) -> ApplyResult:
        """`apply` for a list in a file, read a batch at a time (OSError if it cannot be read).

        `only_newer`: a snapshot whose head names a version already held is refused before its entries are
        read or its signature checked (it would be refused after them): the bootstrap lists given in the
        settings, met again at every start."""
        with open(path, "rb") as f:
            return self.apply_stream(f, trust, str(path) if source is None else source, now=now, progress=progress,
                                     only_newer=only_newer)

    def apply_stream(self, f: IO[bytes], trust: TrustStore, source: str = "<status list>",
                     now: float | None = None, progress: Callable[[], object] | None = None, *,
                     only_newer: bool = False) -> ApplyResult:
        """`apply` for a list read from a seekable binary stream."""
        if typ_of(f) == DCC_REVOCATION_TYP:  # one list for the EU, read whole
            from keys.dccrevocation import verify_dcc_revocation  # loaded only where DCCs are checked

            return self.apply_dcc_revocation(verify_dcc_revocation(f.read(), trust.anchors, source), now=now)
        with self._lock, self._stage() as stage:
            add = stage.add
            if progress is not None:
                def add(batch: PackedSubjects | Iterable[SubjectRow]) -> None:
                    stage.add(batch)
                    progress()
            try:
                with durable.immediate_transaction(self._conn, write_lock=False):
                    head = read_status_list(f, trust, source, now, subjects=add, revoked=self._stage_revoked,
                                            head=self._refuse_held(source) if only_newer else None)
                return self._merge(head, stage, now, progress)
            finally:
                self._unstage()

    def apply_verified(self, sl: StatusListDoc, now: float | None = None) -> ApplyResult:
        """Apply a list already verified (`keys.statuslist.verify_status_list`)."""
        head = StatusListHead(issuer=sl.issuer, version=sl.version, base=sl.base, issued_at=sl.issued_at,
                              next_update=sl.next_update, subjects=len(sl.subjects), revoked=len(sl.revoked),
                              source=sl.source)
        with self._lock, self._stage() as stage:
            try:
                with durable.immediate_transaction(self._conn, write_lock=False):
                    stage.add(sl.subjects)
                    self._stage_revoked(sl.revoked)
                return self._merge(head, stage, now)
            finally:
                self._unstage()

    def _refuse_held(self, source: str) -> Callable[[JsonObject], None]:
        """For `read_status_list`'s `head`: a snapshot's version already held is refused at once."""
        def check(payload: JsonObject) -> None:
            issuer, version = payload.get("issuer"), payload.get("version")
            if payload.get("base") is not None or not isinstance(issuer, str) or type(version) is not int:
                return
            row = self._conn.execute("SELECT version FROM issuers WHERE issuer=?", (issuer,)).fetchone()
            _snapshot_newer(source, version, row[0] if row else None)
        return check

    def _stage(self) -> BucketStage:
        """Buckets beside the database file (a device's /tmp may be memory), else in the temporary folder."""
        return BucketStage(None if self.path == ":memory:" else str(Path(self.path).resolve().parent))

    def _stage_revoked(self, ctis: Iterable[bytes]) -> None:
        self._conn.executemany("INSERT INTO temp.staged_revoked VALUES (?)", ((c,) for c in ctis))

    def _unstage(self) -> None:
        self._conn.execute("DELETE FROM temp.staged_revoked")

    def _merge(self, sl: StatusListHead, stage: BucketStage, now: float | None,
               progress: Callable[[], object] | None = None) -> ApplyResult:
        """Move the staged entries of a verified list into the held ones, in key order, in one transaction."""
        applied_at = time.time() if now is None else now
        # Row numbers for the longest run (its listed or its cleared entries), which is at most the list.
        needed = min(COUNTING, stage.count)
        if needed > self._counted:
            self._conn.execute(_COUNT, {"count": needed})
            self._counted = needed
        with durable.immediate_transaction(self._conn) as c:
            row = c.execute("SELECT version FROM issuers WHERE issuer=?", (sl.issuer,)).fetchone()
            held = row[0] if row else None
            if sl.base is None:
                _snapshot_newer(sl.source, sl.version, held)
                c.execute("DELETE FROM subjects WHERE issuer=?", (sl.issuer,))
                c.execute("DELETE FROM revoked WHERE issuer=?", (sl.issuer,))
            elif held != sl.base:
                raise StatusListError(sl.source, f"delta on base {sl.base} but version "
                                                 f"{held if held is not None else 'none'} is held; "
                                                 "a snapshot is needed")
            # Bucket by bucket in key order. A delta first returns its status-0 subjects to green (removes
            # their entries, docs/format.md §4.3); a snapshot replaced everything and holds its status-0
            # entries like any other: green since `sd`, which outranks a personal code issued before (§4.5).
            for run in stage.runs(keep_green=sl.base is None):
                if sl.base is not None:
                    for a in range(0, len(run.cleared) // 16, COUNTING):
                        part = run.cleared[16 * a:16 * (a + COUNTING)]
                        c.execute(_DELETE_CLEARED, {"count": len(part) // 16, "subs": part, "issuer": sl.issuer})
                for a in range(0, run.count, COUNTING):
                    b, w = min(a + COUNTING, run.count), SINCE_DIGITS
                    c.execute(_INSERT_RUN, {"count": b - a, "issuer": sl.issuer, "subs": run.subs[16 * a:16 * b],
                                            "statuses": run.statuses[a:b], "sinces": run.sinces[w * a:w * b]})
                if progress is not None:
                    progress()
            c.execute("INSERT OR IGNORE INTO revoked SELECT ?, cti FROM temp.staged_revoked ORDER BY cti",
                      (sl.issuer,))
            c.execute("INSERT OR REPLACE INTO issuers VALUES (?,?,?,?,?)",
                      (sl.issuer, sl.version, sl.issued_at, sl.next_update, applied_at))
        return ApplyResult(sl.issuer, sl.version, sl.base is None, sl.subjects, sl.revoked)

    # --- lookups ------------------------------------------------------------------------------
    def info(self, issuer: str) -> IssuerInfo | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT issuer, version, issued_at, next_update, applied_at FROM issuers WHERE issuer=?",
                (issuer,)).fetchone()
        return IssuerInfo(*row) if row else None

    def issuers(self) -> list[IssuerInfo]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT issuer, version, issued_at, next_update, applied_at FROM issuers ORDER BY issuer"
            ).fetchall()
        return [IssuerInfo(*r) for r in rows]

    def version(self, issuer: str) -> int | None:
        info = self.info(issuer)
        return info.version if info else None

    def lookup(self, issuer: str, sub: bytes) -> tuple[int, int] | None:
        """The listed (status, effective-since) of a subject, or None when not listed (green)."""
        with self._lock:
            row = self._conn.execute("SELECT s, sd FROM subjects WHERE issuer=? AND sub=?",
                                     (issuer, sub)).fetchone()
        return (row[0], row[1]) if row else None

    def is_revoked(self, issuer: str, cti: bytes) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM revoked WHERE issuer=? AND cti=?",
                                     (issuer, cti)).fetchone()
        return row is not None

    def facts(self, issuer: str, cti: bytes, sub: bytes) -> StatusFacts:
        """Everything verification needs about one code, in one query (the gate's hot path)."""
        with self._lock:
            # One cursor for every call (`execute` on the connection makes one per call); reading the one
            # row steps the statement to its end, which resets it. The ids go in as bytearrays, bound as the
            # same BLOBs: sqlite3 binds a bytearray as it is, where it first asks a bytes value to adapt
            # itself (two failed attribute lookups, each raising and clearing an AttributeError).
            row = self._facts_cursor.execute(_FACTS_SQL, (issuer, bytearray(cti), bytearray(sub))).fetchone()
        head, revoked, s = row[:4], row[4], row[5]
        last = self._last_info  # one read: another thread may replace it meanwhile
        if head[0] is None:
            info = None
        elif head == last[0] and issuer == last[1].issuer:
            # The same list as the last code's: the same records, not new ones (they are immutable).
            if not revoked and s is None:
                return last[2]
            info = last[1]
        else:
            info = IssuerInfo(issuer, *head)
            self._last_info = (head, info, StatusFacts(info, False, None))
        return StatusFacts(info, bool(revoked), (s, row[6]) if s is not None else None)

    def count(self, issuer: str) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM subjects WHERE issuer=?",
                                          (issuer,)).fetchone()[0])


def _snapshot_newer(source: str, version: int, held: int | None) -> None:
    """Refuse a snapshot not newer than the version held of its issuer (`held`, None: none)."""
    if held is not None and version <= held:
        raise StatusListError(source, f"snapshot version {version} is not newer than the held version {held}")
