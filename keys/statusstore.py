"""The status store: synced status lists held in SQLite, per issuer, for offline lookups at the gate.

Snapshots replace everything held for an issuer; a delta applies only on top of the version it names
as its base (a device at another version must fetch a snapshot). `s: 0` returns a subject to green by
removing its entry. Revoked code ids are never dropped by a delta. Each list is applied in one
transaction, so a crash leaves the previous version whole.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from pathlib import Path

from keys import durable
from keys.dccrevocation import DccRevocationList, is_dcc_revocation, verify_dcc_revocation
from keys.errors import StatusListError
from keys.jsontypes import SignedJson
from keys.statuslist import StatusListDoc, verify_status_list
from keys.trustlist import TrustStore

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
# What `apply` reports for the DCC revocation list, which belongs to no HCC1 issuer.
DCC_REVOCATION_ISSUER = "EU-DCC"


@dataclass(frozen=True)
class IssuerInfo:
    issuer: str
    version: int
    issued_at: int
    next_update: int
    applied_at: float

    def is_fresh(self, now: float, grace: float = 0) -> bool:
        return now <= self.next_update + grace


@dataclass(frozen=True)
class StatusFacts:
    info: IssuerInfo | None
    revoked: bool
    entry: tuple[int, int] | None


_FACTS_SQL = """
    SELECT i.version, i.issued_at, i.next_update, i.applied_at,
           EXISTS (SELECT 1 FROM revoked WHERE issuer = ?1 AND cti = ?2),
           s.s, s.sd
    FROM (SELECT ?1 AS issuer) AS q
    LEFT JOIN issuers AS i ON i.issuer = q.issuer
    LEFT JOIN subjects AS s ON s.issuer = q.issuer AND s.sub = ?3
"""


@cache
def _dcc_revoked_sql(n: int) -> str:
    # One primary-key lookup per (hash, type) pair in one statement; the first hit answers.
    return " UNION ALL ".join(["SELECT kind FROM dcc_revoked WHERE hash = ? AND kind = ?"] * n)


# Rows sort by the primary key's varying part: the issuer is the same for every row of one list.
_BY_KEY = itemgetter(1)


@dataclass(frozen=True)
class ApplyResult:
    issuer: str
    version: int
    snapshot: bool
    subjects: int
    revoked: int


class StatusStore:
    """Status lists per issuer in one SQLite database (a file, or ":memory:")."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.path = path
        self._conn = conn
        # One connection serves the pipeline thread and the UI thread: serialise it.
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path = ":memory:") -> StatusStore:
        p = str(path)
        # The lists can always be fetched again, so NORMAL durability is enough here.
        conn = durable.connect(p, synchronous="NORMAL", timeout=5.0)
        store = cls(conn, p)
        durable.migrate(conn, [_MIGRATIONS[v] for v in range(1, SCHEMA_VERSION + 1)], name=f"status store {p}")
        return store

    def close(self) -> None:
        self._conn.close()

    # --- applying lists ---------------------------------------------------------------------------
    def apply(self, doc: SignedJson | StatusListDoc, trust: TrustStore,
              source: str = "<status list>", now: float | None = None) -> ApplyResult:
        """Verify and apply one status list (or the DCC revocation list, told apart by its `typ`); raise
        `StatusListError` and change nothing if refused."""
        if not isinstance(doc, StatusListDoc) and is_dcc_revocation(doc):
            return self.apply_dcc_revocation(verify_dcc_revocation(doc, trust.anchors, source), now=now)
        parsed = doc if isinstance(doc, StatusListDoc) else verify_status_list(doc, trust, source, now=now)
        return self.apply_verified(parsed, now=now)

    def apply_verified(self, sl: StatusListDoc, now: float | None = None) -> ApplyResult:
        applied_at = time.time() if now is None else now
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute("SELECT version FROM issuers WHERE issuer=?", (sl.issuer,)).fetchone()
                held = row[0] if row else None
                if sl.base is None:
                    if held is not None and sl.version <= held:
                        raise StatusListError(sl.source, f"snapshot version {sl.version} is not newer "
                                                         f"than the held version {held}")
                    c.execute("DELETE FROM subjects WHERE issuer=?", (sl.issuer,))
                    c.execute("DELETE FROM revoked WHERE issuer=?", (sl.issuer,))
                    # In key order: each insert lands next to the last one in the B-tree instead of
                    # on a random page. The sort is stable, so of a subject listed twice the later
                    # entry still wins.
                    c.executemany("INSERT OR REPLACE INTO subjects VALUES (?,?,?,?)",
                                  sorted(((sl.issuer, sub, s, sd) for sub, s, sd in sl.subjects if s), key=_BY_KEY))
                else:
                    if held != sl.base:
                        raise StatusListError(sl.source, f"delta on base {sl.base} but version "
                                                         f"{held if held is not None else 'none'} is held; "
                                                         "a snapshot is needed")
                    c.executemany("DELETE FROM subjects WHERE issuer=? AND sub=?",
                                  ((sl.issuer, sub) for sub, s, _ in sl.subjects if s == 0))
                    c.executemany("INSERT OR REPLACE INTO subjects VALUES (?,?,?,?)",
                                  sorted(((sl.issuer, sub, s, sd) for sub, s, sd in sl.subjects if s), key=_BY_KEY))
                c.executemany("INSERT OR IGNORE INTO revoked VALUES (?,?)",
                              sorted(((sl.issuer, cti) for cti in sl.revoked), key=_BY_KEY))
                c.execute("INSERT OR REPLACE INTO issuers VALUES (?,?,?,?,?)",
                          (sl.issuer, sl.version, sl.issued_at, sl.next_update, applied_at))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return ApplyResult(sl.issuer, sl.version, sl.base is None, len(sl.subjects), len(sl.revoked))

    def apply_dcc_revocation(self, rl: DccRevocationList, now: float | None = None) -> ApplyResult:
        """Replace the held DCC revocation list with a newer one."""
        applied_at = time.time() if now is None else now
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute("SELECT version FROM dcc_revocation_list").fetchone()
                if row is not None and rl.version <= row[0]:
                    raise StatusListError(rl.source, f"DCC revocation list version {rl.version} is not newer "
                                                     f"than the held version {row[0]}")
                c.execute("DELETE FROM dcc_revoked")
                c.executemany("INSERT OR IGNORE INTO dcc_revoked VALUES (?,?)", ((h, k) for k, h in rl.hashes))
                c.execute("INSERT OR REPLACE INTO dcc_revocation_list VALUES (1,?,?,?,?)",
                          (rl.version, rl.issued_at, rl.next_update, applied_at))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return ApplyResult(DCC_REVOCATION_ISSUER, rl.version, True, 0, len(rl.hashes))

    def dcc_revoked(self, hashes: Sequence[tuple[str, bytes]]) -> str | None:
        """The hash type under which a DCC is revoked, or None."""
        if not hashes:
            return None
        with self._lock:
            row = self._conn.execute(_dcc_revoked_sql(len(hashes)),
                                     [x for kind, h in hashes for x in (h, kind)]).fetchone()
        return row[0] if row else None

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
            row = self._conn.execute(_FACTS_SQL, (issuer, cti, sub)).fetchone()
        version, issued_at, next_update, applied_at, revoked, s, sd = row
        info = IssuerInfo(issuer, version, issued_at, next_update, applied_at) if version is not None else None
        return StatusFacts(info=info, revoked=bool(revoked), entry=(s, sd) if s is not None else None)

    def count(self, issuer: str) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM subjects WHERE issuer=?",
                                          (issuer,)).fetchone()[0])
