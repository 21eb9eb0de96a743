"""The hub's database: uploaded visits (per device, with chain checks) and published trust/status lists.

SQLite by default. The SQL is kept portable to PostgreSQL, the planned production store: only
`TEXT`/`BIGINT` columns, `?` placeholders (a PostgreSQL port swaps them for `%s`), `INSERT … ON CONFLICT
DO NOTHING`, no SQLite-only functions, and the schema version in a `schema_version` table rather
than `PRAGMA user_version`.

Uploads are idempotent by visit id: a visit already held is reported as a duplicate and not stored
again. Each stored row is checked against the device's hash chain (`scanner/storage/chain.py`): its
hash must match its content and it must link to the device's previous row when the hub holds that
one; a row failing either is stored (the evidence is kept) and flagged with `chain_ok = 0`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.storage.chain import ROW_FIELDS, chain_hash
from sync.errors import HubStoreError

SCHEMA = [
    """CREATE TABLE schema_version (version BIGINT NOT NULL)""",
    """CREATE TABLE visits (
        device_id TEXT NOT NULL, seq BIGINT NOT NULL, visit_id TEXT NOT NULL UNIQUE, ts_ms BIGINT NOT NULL,
        checkpoint_id TEXT NOT NULL, profile TEXT NOT NULL, clock_trusted BIGINT NOT NULL, format TEXT,
        issuer TEXT, code_id TEXT, subject TEXT, code_type TEXT, verdict TEXT NOT NULL, status TEXT,
        admit BIGINT NOT NULL, tone TEXT NOT NULL, guardian BIGINT NOT NULL, trust_list_version BIGINT,
        status_list_version BIGINT, latency_ms BIGINT NOT NULL, extra TEXT NOT NULL,
        prev_chain TEXT NOT NULL, chain TEXT NOT NULL, chain_ok BIGINT NOT NULL, chain_problem TEXT,
        received_ms BIGINT NOT NULL,
        PRIMARY KEY (device_id, seq))""",
    """CREATE INDEX visits_device_ts ON visits (device_id, ts_ms)""",
    """CREATE TABLE published (
        kind TEXT NOT NULL, issuer TEXT NOT NULL, version BIGINT NOT NULL, base BIGINT,
        etag TEXT NOT NULL, body TEXT NOT NULL, published_ms BIGINT NOT NULL,
        PRIMARY KEY (kind, issuer, version))""",
    """INSERT INTO schema_version (version) VALUES (1)""",
]
# Appended steps: `MIGRATIONS[N-2]` brings a database from version N-1 to N.
MIGRATIONS = [
    [  # 2: device health (latest record per device, and a thinned recent history)
        """CREATE TABLE device_health (
            device_id TEXT PRIMARY KEY, received_ms BIGINT NOT NULL, record TEXT NOT NULL)""",
        """CREATE TABLE device_health_history (
            device_id TEXT NOT NULL, received_ms BIGINT NOT NULL, record TEXT NOT NULL,
            PRIMARY KEY (device_id, received_ms))""",
    ],
]
STORED_FIELDS = (*ROW_FIELDS, "chain_ok", "chain_problem", "received_ms")
_INSERT = (f"INSERT INTO visits ({', '.join(STORED_FIELDS)}) VALUES ({', '.join('?' * len(STORED_FIELDS))}) "
           "ON CONFLICT DO NOTHING")


@dataclass(frozen=True)
class UploadResult:
    stored: int
    duplicates: int
    acked: list[str]
    chain_breaks: list[dict[str, Any]]


@dataclass(frozen=True)
class Published:
    kind: str
    issuer: str
    version: int
    base: int | None
    etag: str
    body: str


class HubStore:
    def __init__(self, path: str | Path):
        self.path = str(path)
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            exists = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
            if not exists:
                self._conn.execute("BEGIN IMMEDIATE")
                for stmt in SCHEMA:
                    self._conn.execute(stmt)
                self._conn.execute("COMMIT")
            self._migrate()
        except sqlite3.Error as e:
            raise HubStoreError(f"hub database {self.path}: {e}") from e

    def _migrate(self) -> None:
        version = int(self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])
        if version > len(MIGRATIONS) + 1:
            raise HubStoreError(f"hub database {self.path}: schema version {version} is newer than this "
                                "software: refusing to touch it")
        for target in range(version + 1, len(MIGRATIONS) + 2):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in MIGRATIONS[target - 2]:
                    self._conn.execute(stmt)
                self._conn.execute("UPDATE schema_version SET version = ?", (target,))
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._conn.close()

    # -- visits -------------------------------------------------------------------------------------

    def upload(self, device_id: str, rows: Sequence[dict[str, Any]],
               now: float | None = None) -> UploadResult:
        """Store a device's batch in one transaction; duplicates by visit id are acked, not stored."""
        received = int((time.time() if now is None else now) * 1000)
        ordered = sorted(rows, key=lambda r: r["seq"])
        ids = [r["visit_id"] for r in ordered]
        with self._lock:
            c = self._conn
            try:
                c.execute("BEGIN IMMEDIATE")
                try:
                    held: set[str] = set()
                    for i in range(0, len(ids), 500):
                        chunk = ids[i:i + 500]
                        held.update(r[0] for r in c.execute(
                            f"SELECT visit_id FROM visits WHERE visit_id IN ({', '.join('?' * len(chunk))})",
                            chunk))
                    fresh = [r for r in ordered if r["visit_id"] not in held]
                    prev_by_seq: dict[int, str] = {}
                    if fresh:
                        seqs = sorted({r["seq"] - 1 for r in fresh})
                        for i in range(0, len(seqs), 500):
                            chunk_s = seqs[i:i + 500]
                            prev_by_seq.update((int(r[0]), str(r[1])) for r in c.execute(
                                f"SELECT seq, chain FROM visits WHERE device_id = ? AND seq IN "
                                f"({', '.join('?' * len(chunk_s))})", [device_id, *chunk_s]))
                    breaks: list[dict[str, Any]] = []
                    values = []
                    for r in fresh:
                        problem = None
                        if chain_hash(r["prev_chain"], r) != r["chain"]:
                            problem = "content does not match its hash"
                        elif r["seq"] - 1 in prev_by_seq and prev_by_seq[r["seq"] - 1] != r["prev_chain"]:
                            problem = "does not link to the previous row"
                        prev_by_seq[r["seq"]] = r["chain"]
                        if problem:
                            breaks.append({"visit_id": r["visit_id"], "seq": r["seq"], "problem": problem})
                        row = {**r, "extra": json.dumps(r["extra"], sort_keys=True, ensure_ascii=False),
                               "chain_ok": 0 if problem else 1, "chain_problem": problem,
                               "received_ms": received}
                        values.append([row[f] for f in STORED_FIELDS])
                    before = c.total_changes
                    c.executemany(_INSERT, values)
                    stored = c.total_changes - before
                    c.execute("COMMIT")
                except BaseException:
                    if c.in_transaction:
                        c.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                raise HubStoreError(f"hub database {self.path}: cannot store visits: {e}") from e
        # A (device, seq) already held under another visit id is not stored: report it as a break.
        if stored != len(fresh):
            have = self._existing_ids([r["visit_id"] for r in fresh])
            for r in fresh:
                if r["visit_id"] not in have:
                    breaks.append({"visit_id": r["visit_id"], "seq": r["seq"],
                                   "problem": "sequence number already used by another visit"})
            acked = [i for i in ids if i in have or i in held]
        else:
            acked = ids
        return UploadResult(stored, len(held), acked, breaks)

    def _existing_ids(self, ids: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = list(ids[i:i + 500])
            out.update(r[0] for r in self._query(
                f"SELECT visit_id FROM visits WHERE visit_id IN ({', '.join('?' * len(chunk))})", chunk))
        return out

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise HubStoreError(f"hub database {self.path}: {e}") from e

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement (portable SQL, `?` placeholders), for the hub's read-side modules."""
        return [tuple(r) for r in self._query(sql, args)]

    def write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run statements in one transaction (all or none)."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql, args in statements:
                        self._conn.execute(sql, args)
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                raise HubStoreError(f"hub database {self.path}: {e}") from e

    def visits(self, device_id: str | None = None, since_ms: int | None = None) -> Iterator[dict[str, Any]]:
        """Stored visits, per device in sequence order, paged."""
        after: tuple[str, int] = ("", -1)
        while True:
            sql = (f"SELECT {', '.join(STORED_FIELDS)} FROM visits WHERE (device_id > ? OR "
                   "(device_id = ? AND seq > ?))")
            args: list[Any] = [after[0], after[0], after[1]]
            if device_id is not None:
                sql += " AND device_id = ?"
                args.append(device_id)
            if since_ms is not None:
                sql += " AND ts_ms >= ?"
                args.append(since_ms)
            batch = self._query(sql + " ORDER BY device_id, seq LIMIT 1000", args)
            if not batch:
                return
            for r in batch:
                d = dict(r)
                d["extra"] = json.loads(d["extra"])
                for name in ("clock_trusted", "admit", "guardian", "chain_ok"):
                    d[name] = bool(d[name])
                yield d
            after = (batch[-1]["device_id"], batch[-1]["seq"])

    def count(self, device_id: str | None = None) -> int:
        if device_id is None:
            return int(self._query("SELECT COUNT(*) FROM visits")[0][0])
        return int(self._query("SELECT COUNT(*) FROM visits WHERE device_id = ?", (device_id,))[0][0])

    # -- published lists ----------------------------------------------------------------------------

    def publish(self, kind: str, issuer: str, version: int, base: int | None, body: str,
                now: float | None = None) -> Published:
        etag = f'"{kind[0]}{version}-{hashlib.sha256(body.encode()).hexdigest()[:16]}"'
        at = int((time.time() if now is None else now) * 1000)
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute("DELETE FROM published WHERE kind = ? AND issuer = ? AND version = ?",
                                   (kind, issuer, version))
                self._conn.execute(
                    "INSERT INTO published (kind, issuer, version, base, etag, body, published_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", (kind, issuer, version, base, etag, body, at))
                self._conn.execute("COMMIT")
            except sqlite3.Error as e:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise HubStoreError(f"hub database {self.path}: cannot publish: {e}") from e
        return Published(kind, issuer, version, base, etag, body)

    def _published(self, where: str, args: Sequence[Any]) -> Published | None:
        rows = self._query(f"SELECT kind, issuer, version, base, etag, body FROM published WHERE {where} "
                           "ORDER BY published_ms DESC, version DESC LIMIT 1", args)
        return Published(*rows[0]) if rows else None

    def latest(self, kind: str, issuer: str = "") -> Published | None:
        """The list published last (not the highest version: the operator's last word wins)."""
        return self._published("kind = ? AND issuer = ?", (kind, issuer))

    def delta_from(self, issuer: str, base: int) -> Published | None:
        return self._published("kind = 'status' AND issuer = ? AND base = ?", (issuer, base))

    def latest_snapshot(self, issuer: str) -> Published | None:
        return self._published("kind = 'status' AND issuer = ? AND base IS NULL", (issuer,))

    def status_issuers(self) -> dict[str, int]:
        rows = self._query("SELECT issuer, MAX(version) FROM published WHERE kind = 'status' GROUP BY issuer")
        return {str(r[0]): int(r[1]) for r in rows}
