"""The hub's store: the database opened and migrated, published lists, visit queries, gaps and retention.

One `HubStore` per process over a `Database` (`sync/hub/db.py`: SQLite file or PostgreSQL). Nothing a
request needs lives only in this process: published lists, their ETags, the device registry and each
log's head are read from the database, so any number of hub processes can serve the same devices.

Uploads are stored by `sync/hub/ingest.py` (`HubStore.upload` delegates to it). Visit queries page by
keyset on (device, log id, seq), never by OFFSET, so the last page costs what the first does; counts
are SQL `COUNT(*)`. Retention drops whole day partitions on PostgreSQL and deletes old rows on SQLite.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keys.jsontypes import JsonObject
from scanner.storage.chain import BOOL_FIELDS, ROW_FIELDS
from sync.errors import HubStoreError
from sync.hub.db import POSTGRESQL, SQLITE, Database, Row, Tx, migrate, open_database, schema_version
from sync.hub.schema import MIGRATIONS, missing_visit_columns
from sync.hub.traffic import HOUR_MS

if TYPE_CHECKING:
    from sync.hub.ingest import IngestRules, UploadResult

# PostgreSQL's SQLSTATE for a row no partition takes (check_violation; the visits have no other check).
NO_PARTITION = "23514"
STORED_FIELDS: tuple[str, ...] = ("log_id", *ROW_FIELDS, "chain_ok", "chain_problem", "received_ms")
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Published:
    kind: str
    issuer: str
    version: int
    base: int | None
    etag: str
    body: str


@dataclass(frozen=True)
class Page:
    """One page of visits and the cursor that continues after it (None at the end)."""

    rows: list[JsonObject]
    after: tuple[str, str, int] | None


def day_of(ts_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).date()


def partition_name(day: dt.date) -> str:
    return f"visits_p{day:%Y%m%d}"


class HubStore:
    """`HubStore(url)`: a file path, `sqlite:///…` or `postgresql://…`. `create=False` for read-only commands:
    a missing SQLite file is refused (never created), an unmigrated database too."""

    def __init__(self, url: str | Path, *, create: bool = True, pool_size: int = 8):
        self.url = str(url)
        self.db: Database = open_database(url, create=create, pool_size=pool_size)
        self.dialect = self.db.dialect
        try:
            if create:
                migrate(self.db, MIGRATIONS)
            self._check_schema(create)
        except BaseException:
            self.db.close()
            raise
        # Days whose visit partition this process has seen exist (PostgreSQL); only saves a catalog query.
        self._days: set[dt.date] = set()
        self._days_lock = threading.Lock()
        # Lists published through this store object: a cache of the heads (`sync.hub.roundcache`) in
        # the same process reloads at once after one.
        self.publications = 0

    def _check_schema(self, create: bool) -> None:
        with self.db.read() as tx:
            version = schema_version(tx)
            if version < MIGRATIONS[-1].version and not create:
                raise HubStoreError(f"hub database {self.url}: schema version {version}, this software needs "
                                    f"{MIGRATIONS[-1].version}: run `checkpoint hub migrate --db …` first")
            missing = missing_visit_columns(tx)
        if missing:
            raise HubStoreError(f"hub database {self.url}: the visits table has no column for "
                                f"{', '.join(missing)} (declared in VISIT_FIELDS): add a migration step in "
                                "sync/hub/schema.py")

    def close(self) -> None:
        self.db.close()

    # -- plain statements for the hub's read-side modules (operator pages, device health) ---------------

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Rows of a read-only statement (portable SQL, `?` placeholders)."""
        with self.db.read() as tx:
            return tx.execute(sql, args)

    def write(self, statements: Sequence[tuple[str, Sequence[object]]], *, durable: bool = True) -> None:
        """Run statements in one transaction (all or none); `durable=False`: the commit does not wait for
        the disk (for what a crash may lose, such as health records)."""
        with self.db.transaction(durable=durable) as tx:
            for sql, args in statements:
                tx.execute(sql, args)

    # -- visits: upload (sync/hub/ingest.py) and partitions -----------------------------------------------

    def upload(self, device_id: str, rows: Sequence[JsonObject], now: float | None = None, *,
               log_id: str | None = None, signed: tuple[int, str] | None = None,
               rules: IngestRules | None = None, recovered: bool = False) -> UploadResult:
        """Store a device's batch; see `sync.hub.ingest.store_batch`."""
        from sync.hub.ingest import store_batch

        try:
            return store_batch(self, device_id, rows, now=now, log_id=log_id, signed=signed, rules=rules,
                               recovered=recovered)
        except HubStoreError as e:
            if getattr(e.__cause__, "sqlstate", None) != NO_PARTITION:
                raise
        # A day this process had seen was dropped since by another (`hub retain` with fewer days than this
        # process keeps): the transaction stored nothing; forget the days and make the missing ones again.
        self.forget_partitions()
        return store_batch(self, device_id, rows, now=now, log_id=log_id, signed=signed, rules=rules,
                           recovered=recovered)

    def ensure_partitions(self, days: set[dt.date]) -> None:
        """Create the day partitions of `visits` that do not exist yet (PostgreSQL; nothing on SQLite)."""
        if self.dialect != POSTGRESQL:
            return
        with self._days_lock:
            todo = sorted(days - self._days)
        if not todo:
            return
        with self.db.transaction() as tx:
            tx.lock("visits-partitions")
            for day in todo:
                lo = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)
                tx.execute(f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF visits "
                           f"FOR VALUES FROM ({lo}) TO ({lo + DAY_MS})")
        with self._days_lock:
            self._days.update(todo)

    def forget_partitions(self) -> None:
        with self._days_lock:
            self._days.clear()

    # -- visits: queries ----------------------------------------------------------------------------

    @staticmethod
    def _where(device_id: str | None, since_ms: int | None, until_ms: int | None) -> tuple[str, list[object]]:
        clauses: list[str] = []
        args: list[object] = []
        if device_id is not None:
            clauses.append("device_id = ?")
            args.append(device_id)
        if since_ms is not None:
            clauses.append("ts_ms >= ?")
            args.append(since_ms)
        if until_ms is not None:
            clauses.append("ts_ms < ?")
            args.append(until_ms)
        return " AND ".join(clauses) or "1 = 1", args

    def page(self, device_id: str | None = None, since_ms: int | None = None, until_ms: int | None = None, *,
             after: tuple[str, str, int] | None = None, limit: int = 1000) -> Page:
        """Visits in (device, log id, seq) order after the keyset cursor `after`."""
        where, args = self._where(device_id, since_ms, until_ms)
        if after is not None:
            # Row-value comparison is what both engines turn into an index range scan.
            where += " AND (device_id, log_id, seq) > (?, ?, ?)"
            args += list(after)
        sql = (f"SELECT {', '.join(STORED_FIELDS)} FROM visits WHERE {where} "
               f"ORDER BY device_id, log_id, seq LIMIT {int(limit)}")
        with self.db.read() as tx:
            rows = tx.execute(sql, args)
        out = [self._row(r) for r in rows]
        last = (out[-1]["device_id"], out[-1]["log_id"], out[-1]["seq"]) if len(out) == limit else None
        return Page(out, last)

    @staticmethod
    def _row(r: Row) -> JsonObject:
        d = dict(zip(STORED_FIELDS, r, strict=True))
        d["extra"] = {} if d["extra"] == "{}" else json.loads(d["extra"])  # most rows have none
        for name in (*BOOL_FIELDS, "chain_ok"):
            d[name] = bool(d[name])
        return d

    def visits(self, device_id: str | None = None, since_ms: int | None = None,
               until_ms: int | None = None) -> Iterator[JsonObject]:
        """Every matching visit, per device and log in sequence order, fetched a page at a time."""
        after = None
        while True:
            page = self.page(device_id, since_ms, until_ms, after=after)
            yield from page.rows
            if page.after is None:
                return
            after = page.after

    def count(self, device_id: str | None = None, since_ms: int | None = None,
              until_ms: int | None = None) -> int:
        where, args = self._where(device_id, since_ms, until_ms)
        with self.db.read() as tx:
            return int(tx.execute(f"SELECT COUNT(*) FROM visits WHERE {where}", args)[0][0])

    def count_flagged(self, device_id: str | None = None, since_ms: int | None = None,
                      until_ms: int | None = None) -> int:
        where, args = self._where(device_id, since_ms, until_ms)
        with self.db.read() as tx:
            return int(tx.execute(f"SELECT COUNT(*) FROM visits WHERE {where} AND chain_ok = 0", args)[0][0])

    def logs(self, device_id: str | None = None) -> list[JsonObject]:
        """Each log the hub holds rows of: its head, its signed checkpoint, and the missing seq ranges."""
        sql = ("SELECT device_id, log_id, last_seq, last_chain, contiguous_seq, signed_seq, signed_chain, "
               "recovered_ms FROM logs" + (" WHERE device_id = ?" if device_id else "") + " ORDER BY device_id, log_id")
        with self.db.read() as tx:
            heads = tx.execute(sql, [device_id] if device_id else [])
            out = []
            for d, log_id, last, chain, contiguous, sseq, schain, recovered in heads:
                out.append({"device_id": d, "log_id": log_id, "last_seq": last, "last_chain": chain,
                            "signed_seq": sseq, "signed_chain": schain, "recovered_ms": recovered,
                            "gaps": log_gaps(tx, d, log_id, contiguous, last)})
        return out

    def refusals(self, device_id: str | None = None) -> list[JsonObject]:
        sql = ("SELECT device_id, log_id, seq, visit_id, ts_ms, reason, received_ms FROM visit_refusals"
               + (" WHERE device_id = ?" if device_id else "") + " ORDER BY device_id, log_id, seq")
        names = ("device_id", "log_id", "seq", "visit_id", "ts_ms", "reason", "received_ms")
        with self.db.read() as tx:
            return [dict(zip(names, r, strict=True)) for r in tx.execute(sql, [device_id] if device_id else [])]

    def conflicts(self, device_id: str | None = None) -> list[JsonObject]:
        sql = ("SELECT device_id, log_id, seq, visit_id, chain, held_chain, received_ms FROM visit_conflicts"
               + (" WHERE device_id = ?" if device_id else "") + " ORDER BY device_id, log_id, seq")
        names = ("device_id", "log_id", "seq", "visit_id", "chain", "held_chain", "received_ms")
        with self.db.read() as tx:
            return [dict(zip(names, r, strict=True)) for r in tx.execute(sql, [device_id] if device_id else [])]

    # -- retention ----------------------------------------------------------------------------------

    def retain(self, days: int, now: float | None = None) -> int:
        """Remove visits (and refusals, conflicts, site admissions, hourly counts) older than `days` whole days.

        PostgreSQL drops each day partition entirely before the cut-off day (returns partitions dropped);
        SQLite deletes the rows (returns rows deleted).
        """
        if days <= 0:
            return 0
        cut_day = day_of(int((time.time() if now is None else now) * 1000)) - dt.timedelta(days=days)
        cutoff = int(dt.datetime(cut_day.year, cut_day.month, cut_day.day, tzinfo=dt.UTC).timestamp() * 1000)
        removed = 0
        with self.db.transaction() as tx:
            if tx.dialect == POSTGRESQL:
                tx.lock("visits-partitions")
                for (name,) in tx.execute(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'visits'"):
                    if name.startswith("visits_p") and name[8:] < f"{cut_day:%Y%m%d}":
                        tx.execute(f"DROP TABLE {name}")
                        removed += 1
            else:
                before = tx.execute("SELECT COUNT(*) FROM visits WHERE ts_ms < ?", (cutoff,))[0][0]
                tx.execute("DELETE FROM visits WHERE ts_ms < ?", (cutoff,))
                removed = int(before)
            tx.execute("DELETE FROM visit_refusals WHERE received_ms < ?", (cutoff,))
            tx.execute("DELETE FROM visit_conflicts WHERE received_ms < ?", (cutoff,))
            tx.execute("DELETE FROM site_admissions WHERE ts_ms < ?", (cutoff,))
            tx.execute("DELETE FROM traffic_hourly WHERE hour < ?", (cutoff // HOUR_MS,))
        if self.dialect == POSTGRESQL:
            self.forget_partitions()
        return removed

    def size_bytes(self) -> int:
        """Bytes the database takes on disk (for the benchmark and the operator)."""
        with self.db.read() as tx:
            if tx.dialect == SQLITE:
                pages = tx.execute("PRAGMA page_count")[0][0]
                size = tx.execute("PRAGMA page_size")[0][0]
                return int(pages) * int(size)
            return int(tx.execute("SELECT pg_database_size(current_database())")[0][0])

    # -- published lists ----------------------------------------------------------------------------

    def publish(self, kind: str, issuer: str, version: int, base: int | None, body: str,
                now: float | None = None) -> Published:
        etag = f'"{kind[0]}{version}-{hashlib.sha256(body.encode()).hexdigest()[:16]}"'
        at = int((time.time() if now is None else now) * 1000)
        with self.db.transaction() as tx:
            tx.lock(f"publish:{kind}:{issuer}")
            # The operator's last word wins even within one millisecond of the previous publication.
            prev = tx.execute("SELECT MAX(published_ms) FROM published WHERE kind = ? AND issuer = ?",
                              (kind, issuer))[0][0]
            at = max(at, int(prev or 0) + 1)
            tx.execute("DELETE FROM published WHERE kind = ? AND issuer = ? AND version = ?", (kind, issuer, version))
            tx.execute("INSERT INTO published (kind, issuer, version, base, etag, body, published_ms) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", (kind, issuer, version, base, etag, body, at))
        self.publications += 1
        return Published(kind, issuer, version, base, etag, body)

    def _published(self, where: str, args: Sequence[object]) -> Published | None:
        with self.db.read() as tx:
            rows = tx.execute(f"SELECT kind, issuer, version, base, etag, body FROM published WHERE {where} "
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
        with self.db.read() as tx:
            rows = tx.execute("SELECT issuer, MAX(version) FROM published WHERE kind = 'status' GROUP BY issuer")
        return {str(r[0]): int(r[1]) for r in rows}

    def heads(self, tx: Tx) -> dict[tuple[str, str], tuple[int, str, int]]:
        """(kind, issuer) -> (version, etag, highest version) of what each kind published last; one query."""
        return heads_of(tx.execute(HEADS))


# The published kind of the EU DCC revocation list (`GET /v1/dcc-revocation`).
DCC_REVOCATION_KIND = "dccrevocation"

# What each (kind, issuer) published last, and its highest version (`heads_of` reads the rows).
HEADS = ("SELECT p.kind, p.issuer, p.version, p.etag, m.top FROM published p JOIN (SELECT kind, issuer, "
         "MAX(published_ms) AS at, MAX(version) AS top FROM published GROUP BY kind, issuer) m "
         "ON m.kind = p.kind AND m.issuer = p.issuer AND m.at = p.published_ms")


def heads_of(rows: list[Row]) -> dict[tuple[str, str], tuple[int, str, int]]:
    return {(str(k), str(i)): (int(v), str(e), int(t)) for k, i, v, e, t in rows}


def log_gaps(tx: Tx, device_id: str, log_id: str, from_seq: int, last_seq: int) -> list[tuple[int, int]]:
    """Missing seq ranges (inclusive) of one log after `from_seq` (below it every seq is known held)."""
    rows = tx.execute(
        "SELECT seq, nxt FROM (SELECT seq, LEAD(seq) OVER (ORDER BY seq) AS nxt FROM ("
        "SELECT seq FROM visits WHERE device_id = ? AND log_id = ? AND seq >= ? UNION ALL "
        "SELECT seq FROM visit_refusals WHERE device_id = ? AND log_id = ? AND seq >= ?) s) t "
        "WHERE nxt > seq + 1 ORDER BY seq LIMIT 1000",
        (device_id, log_id, from_seq, device_id, log_id, from_seq))
    gaps = [(int(a) + 1, int(b) - 1) for a, b in rows]
    if from_seq == 0:
        first = tx.execute("SELECT MIN(seq) FROM (SELECT seq FROM visits WHERE device_id = ? AND log_id = ? "
                           "UNION ALL SELECT seq FROM visit_refusals WHERE device_id = ? AND log_id = ?) s",
                           (device_id, log_id, device_id, log_id))[0][0]
        if first is not None and int(first) > 1:
            gaps.insert(0, (1, int(first) - 1))
    del last_seq  # rows beyond the hub's last seq are unknown, not missing
    return gaps
