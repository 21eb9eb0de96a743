"""The hub's database seam: one small interface over SQLite and PostgreSQL, and versioned migrations.

`open_database(url)` takes a file path, `sqlite:///PATH` or `postgresql://…` and returns a `Database`.
Everything above it (`sync/hub/store.py`, `sync/hub/registry.py`, …) writes one copy of each query:

* placeholders are `?` (the PostgreSQL side turns them into `%s`; so no literal `?` or `%` in SQL text);
* only `TEXT`, `BIGINT`, `SMALLINT` columns, `INSERT … ON CONFLICT DO NOTHING`, window functions and
  other SQL both engines speak; where they differ, a migration step gives one text per dialect.

A transaction (`db.transaction()`) is the unit of work (`durable=False` for data a crash may lose, such as
health records: the commit then does not wait for the disk): on SQLite it takes the write lock up front
(`BEGIN IMMEDIATE`, which also serialises writers of several processes on one file); on PostgreSQL it is
a pooled connection's transaction, and `tx.lock(key)` takes a transaction-scoped advisory lock so that
hub processes sharing the database serialise on one device's log, never on the whole table.
`db.read()` runs reads without taking the SQLite write lock.

Migrations are numbered and append-only (`MIGRATIONS` in `sync/hub/schema.py`); the version is kept in
the `schema_version` table. `migrate(db)` applies the missing steps, each in its own transaction, under a
lock (an advisory lock on PostgreSQL), so several hub processes starting at once migrate once.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from sync.errors import HubStoreError

if TYPE_CHECKING:
    import psycopg

Row: TypeAlias = tuple[Any, ...]
"""A result row as the driver returns it; the code reading it gives the values their types."""

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
# The advisory lock key under which PostgreSQL migrations run (any constant; "ckpt" in ASCII).
_MIGRATION_LOCK = 0x636B7074


class Tx(Protocol):
    """One transaction (or one read) on the hub database."""

    dialect: str

    def execute(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Run one statement; its result rows (empty for statements without rows)."""

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run one statement for each row of arguments."""

    def execute_all(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[list[Row]]:
        """Run statements in order; each one's result rows. On PostgreSQL they go to the server together
        (pipeline mode: one network round trip instead of one per statement)."""

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """Bulk-insert rows (COPY on PostgreSQL; one prepared INSERT on SQLite). No conflict handling."""

    def lock(self, key: str) -> None:
        """Serialise with other transactions taking the same key until this one ends."""

    def lock_and_read(self, key: str, statements: Sequence[tuple[str, Sequence[object]]]) -> list[list[Row]]:
        """`lock(key)`, then `execute_all(statements)`: on PostgreSQL in the same round trip."""


class Database(Protocol):
    url: str
    dialect: str

    def transaction(self, *, durable: bool = True) -> contextlib.AbstractContextManager[Tx]: ...

    def read(self) -> contextlib.AbstractContextManager[Tx]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Step:
    """One migration: SQL statements (";"-separated) shared by both dialects, or one text per dialect,
    or a function of the transaction."""

    version: int
    about: str
    sql: str | dict[str, str] | Callable[[Tx], None]


def _split(sql: str) -> list[str]:
    return [s for s in (x.strip() for x in sql.split(";")) if s]


# -- SQLite -----------------------------------------------------------------------------------------

class _SqliteTx:
    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        return [tuple(r) for r in self.conn.execute(sql, args).fetchall()]

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self.conn.executemany(sql, rows)

    def execute_all(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[list[Row]]:
        return [self.execute(sql, args) for sql, args in statements]

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                              f"({', '.join('?' * len(columns))})", rows)

    def lock(self, key: str) -> None:
        """Nothing to do: `BEGIN IMMEDIATE` already holds the database's single write lock."""

    def lock_and_read(self, key: str, statements: Sequence[tuple[str, Sequence[object]]]) -> list[list[Row]]:
        return self.execute_all(statements)


class SqliteDatabase:
    """A SQLite file in WAL mode: one connection per thread, writers serialised by SQLite's write lock."""

    dialect = SQLITE

    def __init__(self, path: str, *, create: bool = True):
        from keys.durable import connect

        self.path = path
        self.url = path
        if not create and path != ":memory:" and not Path(path).is_file():
            raise HubStoreError(f"hub database {path}: no such file")
        self._connect = lambda: connect(path, timeout=60.0)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._writer = threading.Lock()
        # ":memory:" is one database per connection: share one connection (under the lock) there.
        self._shared: sqlite3.Connection | None = None
        try:
            if path == ":memory:":
                self._shared = self._connect()
            else:
                self._conn()
        except sqlite3.Error as e:
            raise HubStoreError(f"hub database {path}: {e}") from e

    def _conn(self) -> sqlite3.Connection:
        if self._shared is not None:
            return self._shared
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._guard:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Tx]:
        # One writer at a time anyway; waiting on a lock here instead of in SQLite's busy handler (which
        # polls with sleeps) keeps many concurrent uploads from starving one past the busy timeout.
        with self._writer, self._shared_lock():
            conn = self._conn()
            try:
                if not durable:  # WAL: the commit is not fsynced (a crash may lose it, never corrupt)
                    conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield _SqliteTx(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                finally:
                    if not durable:
                        conn.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as e:
                raise HubStoreError(f"hub database {self.path}: {e}") from e

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        with self._shared_lock():
            try:
                yield _SqliteTx(self._conn())
            except sqlite3.Error as e:
                raise HubStoreError(f"hub database {self.path}: {e}") from e

    def _shared_lock(self) -> contextlib.AbstractContextManager[object]:
        return self._guard if self._shared is not None else contextlib.nullcontext()

    def close(self) -> None:
        with self._guard:
            for conn in [*self._all, *([self._shared] if self._shared else [])]:
                conn.close()
            self._all.clear()


# -- PostgreSQL -------------------------------------------------------------------------------------

_QMARK = re.compile(r"\?")
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))"


class _PgTx:
    dialect = POSTGRESQL

    def __init__(self, conn: psycopg.Connection[Row], prelude: Sequence[str] = (),
                 types: dict[tuple[str, tuple[str, ...]], list[str]] | None = None):
        self.conn = conn
        self.types = {} if types is None else types  # (table, columns) -> their SQL types, for COPY
        # Statements the transaction starts with, sent with its first statement(s) rather than alone.
        self.prelude = list(prelude)

    def _flush(self) -> None:
        if self.prelude:
            self.execute_all([])

    def execute(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        if self.prelude:
            return self.execute_all([(sql, args)])[0]
        cur = self.conn.execute(_QMARK.sub("%s", sql), args)
        return list(cur.fetchall()) if cur.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._flush()
        with self.conn.cursor() as cur:
            cur.executemany(_QMARK.sub("%s", sql), rows)

    def execute_all(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[list[Row]]:
        first, self.prelude = [(sql, ()) for sql in self.prelude], []
        with self.conn.pipeline():
            cursors = [self.conn.execute(_QMARK.sub("%s", sql), args) for sql, args in [*first, *statements]]
        return [list(c.fetchall()) if c.description is not None else [] for c in cursors[len(first):]]

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        # Binary COPY: values go as the columns' own binary forms (integers packed, text as UTF-8), which
        # is cheaper to write here and to read on the server than text (bools become smallint 0/1).
        key = (table, tuple(columns))
        types = self.types.get(key)
        if types is None:
            found: dict[object, object] = dict(self.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped", (table,)))
            types = self.types[key] = [str(found[c]) for c in columns]
        self._flush()
        with (self.conn.cursor() as cur,
              cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as cp):
            cp.set_types(types)
            for r in rows:
                cp.write_row(r)

    def lock(self, key: str) -> None:
        self.execute(_LOCK, (key,))

    def lock_and_read(self, key: str, statements: Sequence[tuple[str, Sequence[object]]]) -> list[list[Row]]:
        # Pipelined: the server runs them in order, so the reads see what the lock's holder committed.
        return self.execute_all([(_LOCK, (key,)), *statements])[1:]


_CONNECT_TIMEOUT_S = 10


class PostgresDatabase:
    """A psycopg connection pool; each transaction borrows one connection."""

    dialect = POSTGRESQL

    def __init__(self, url: str, *, max_size: int = 8):
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = url
        self._types: dict[tuple[str, tuple[str, ...]], list[str]] = {}  # COPY's column types (`_PgTx`)
        self._errors: tuple[type[BaseException], ...] = (psycopg.Error,)
        # One plain connection first: a server that is down, a wrong password or a missing database is
        # named at once with the server's own words, where the pool would retry for its whole timeout
        # and then say only that it timed out.
        try:
            psycopg.connect(url, connect_timeout=_CONNECT_TIMEOUT_S, autocommit=True).close()
        except psycopg.Error as e:
            raise HubStoreError(f"hub database {_safe(url)}: cannot connect: {str(e).strip()}") from None
        try:
            self.pool = ConnectionPool(url, min_size=1, max_size=max_size, open=True, timeout=30,
                                       kwargs={"autocommit": False})
            self.pool.wait(timeout=30)
        except Exception as e:  # psycopg_pool raises PoolTimeout (not a psycopg.Error) for a dead server
            raise HubStoreError(f"hub database {_safe(url)}: cannot connect: {e}") from None

    @contextlib.contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Tx]:
        try:
            with self.pool.connection() as conn:
                # durable=False: the commit does not wait for the WAL flush (a crash may lose it).
                # The pool commits on a clean exit and rolls back on an exception.
                yield _PgTx(conn, () if durable else ("SET LOCAL synchronous_commit = off",), self._types)
        except self._errors as e:
            raise HubStoreError(f"hub database {_safe(self.url)}: {e}") from e

    def read(self) -> contextlib.AbstractContextManager[Tx]:
        return self.transaction()

    def close(self) -> None:
        self.pool.close()


def _safe(url: str) -> str:
    """The URL without a password, for messages."""
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)


def open_database(url: str | Path, *, create: bool = True, pool_size: int = 8) -> Database:
    """A `Database` for a file path, `sqlite:///PATH` or `postgresql://…` (`postgres://` too).

    `create=False` (read-only commands) refuses a SQLite file that does not exist instead of making one.
    """
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(text, max_size=pool_size)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):] or ":memory:"
        # sqlite:////abs/path keeps its leading slash; sqlite:///rel/path is relative.
    elif "://" in text:
        raise HubStoreError(f"hub database {text}: unknown scheme (use a file path, sqlite:///… or postgresql://…)")
    return SqliteDatabase(text, create=create)


def schema_version(tx: Tx) -> int:
    if tx.dialect == SQLITE:
        exists = tx.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
    else:
        exists = tx.execute("SELECT 1 FROM pg_tables WHERE schemaname = current_schema() "
                            "AND tablename = 'schema_version'")
    if not exists:
        return 0
    row = tx.execute("SELECT MAX(version) FROM schema_version")
    return int(row[0][0] or 0)


def migrate(db: Database, steps: Sequence[Step]) -> int:
    """Apply the steps the database lacks, each in one transaction; return the schema version.

    Refuses a database written by newer software (a version beyond the last step).
    """
    known = steps[-1].version if steps else 0
    while True:
        with db.transaction() as tx:
            if tx.dialect == POSTGRESQL:
                tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            version = schema_version(tx)
            if version > known:
                raise HubStoreError(f"hub database {_safe(db.url)}: schema version {version} is newer than "
                                    f"this software ({known}): refusing to touch it")
            pending = [s for s in steps if s.version > version]
            if not pending:
                return version
            step = pending[0]
            if callable(step.sql):
                step.sql(tx)
            else:
                text = step.sql if isinstance(step.sql, str) else step.sql[tx.dialect]
                for stmt in _split(text):
                    tx.execute(stmt)
            if step.version == 1:
                continue  # step 1 creates schema_version and records itself
            tx.execute("DELETE FROM schema_version")
            tx.execute("INSERT INTO schema_version (version) VALUES (?)", (step.version,))
