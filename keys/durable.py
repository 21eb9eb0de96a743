"""Durable local state: the one atomic file write and the one SQLite connection, transaction and migration
helper that every package uses.

A device loses power without warning. A file is replaced by writing a temporary file beside it, fsyncing
it, renaming it over the old one and fsyncing the folder, so a reader (or a reboot) finds the old file or
the new one, never half of either. SQLite databases run in WAL mode; writes take the write lock up front
(`BEGIN IMMEDIATE`), and schema changes are numbered migrations recorded in `PRAGMA user_version`.

These live in `keys`, the lowest package, because the trust store and the status store persist with them
too; `scanner.storage` (visit log, sync state) and `sync` (the hub) use the same functions.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from keys.jsontypes import Json

log = logging.getLogger(__name__)

# A migration is either SQL statements separated by ";" or a function of the connection.
Migration = str | Callable[[sqlite3.Connection], None]


class SchemaTooNew(Exception):
    """The database was written by newer software: refuse to touch it rather than corrupt it."""

    def __init__(self, path: str, version: int, known: int):
        super().__init__(f"{path}: schema version {version} is newer than this software ({known}): "
                         "refusing to touch it")
        self.version = version


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _directory_locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on `directory` (flock on the folder itself, so no lock file is left beside the
    data) while a process sets a file in it aside; where the folder cannot be opened, without the lock (the
    set-aside still tolerates a file gone meanwhile)."""
    import fcntl

    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the folder releases the lock


def _rename_aside(path: Path) -> Path | None:
    """Rename `path` to the first free `<name>.bad-<n>`; None when it is gone (another process renamed it)."""
    n = 1
    while (aside := path.with_name(f"{path.name}.bad-{n}")).exists():
        n += 1
    try:
        path.replace(aside)
    except FileNotFoundError:
        return None
    return aside


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when there is none: which file a path names at a moment,
    so a process can tell the file it found damaged from a new one another process put in its place."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _still(path: Path, judged: tuple[int, int] | None) -> bool:
    """Whether `path` still names the file found refused (`judged`: its `file_identity` then; None: any file)."""
    now = file_identity(path)
    return now is not None and (judged is None or now == judged)


def set_aside(path: Path, *, judged: tuple[int, int] | None = None) -> Path | None:
    """Rename a refused file to `<name>.bad-<n>` for inspection, never overwriting an earlier one.

    Two processes starting together can refuse the same file: None when the other one set it aside first,
    so the file is gone, or `path` is no longer the file `judged` describes (the other process's new file,
    which stays)."""
    with _directory_locked(path.parent):
        aside = _rename_aside(path) if _still(path, judged) else None
    if aside is not None:
        fsync_dir(path.parent)
    return aside


def damaged(e: BaseException) -> bool:
    """Whether a SQLite error says the file itself is damaged or not a database at all (rather than locked,
    unreadable or on a full disk, which are not the file's fault)."""
    return isinstance(e, sqlite3.DatabaseError) and e.sqlite_errorcode in (sqlite3.SQLITE_CORRUPT,
                                                                           sqlite3.SQLITE_NOTADB)


def set_aside_database(path: Path, *, judged: tuple[int, int] | None = None) -> list[str]:
    """Set a damaged SQLite file aside (`set_aside`) with its WAL and shared-memory files, so the next open
    starts a new one; the names they were kept under, none when another process set the file aside first
    (the WAL and shared-memory files then beside it are its new database's)."""
    companions = (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
    # The three move under one lock: a process finding the file gone must not open a new database (and
    # make its WAL) before the damaged one's WAL has moved too.
    with _directory_locked(path.parent):
        first = _rename_aside(path) if _still(path, judged) else None
        if first is None:
            return []
        kept = [first, *filter(None, (_rename_aside(f) for f in companions if f.exists()))]
    fsync_dir(path.parent)
    return [k.name for k in kept]


def open_cached(path: Path, *, what: str, load: Callable[[bytes, str], object],
                install: Callable[[bytes, str], object], bootstrap: str | Path | None,
                refused: tuple[type[Exception], ...]) -> str | None:
    """Start a persisted signed list (trust list, rules list) without ever refusing to start.

    The cached file at `path` is re-verified by `load` (anchors may have been rotated since it was
    stored); a refused one is set aside for inspection. With nothing loaded, the `bootstrap` file is
    given to `install` (which persists it). Returns why the store holds no list, or only the bootstrap
    one, in plain words for the screen and the status file; None when the cache loaded.
    """
    problem: str | None = None
    loaded = False
    errors: tuple[type[Exception], ...] = (*refused, OSError)
    if (judged := file_identity(path)) is not None:
        try:
            load(path.read_bytes(), str(path))
            loaded = True
        except errors as e:
            aside = set_aside(path, judged=judged)
            kept = f"kept as {aside.name}" if aside else "set aside by another process"
            problem = f"cached {what} refused ({e}); {kept}"
            log.error("%s", problem)
    if not loaded and bootstrap:
        try:
            install(Path(bootstrap).read_bytes(), str(bootstrap))
        except errors as e:
            why = f"bootstrap {what} {bootstrap} refused: {e}"
            problem = f"{problem}; {why}" if problem else why
            log.error("%s", why)
    return problem


@contextmanager
def _replacing(path: str | Path, *, mode: int | None, keep_owner: bool) -> Iterator[Path]:
    """A temporary path to write and fsync; on success it replaces `path` durably, on failure it is removed.

    A `path` that is a symbolic link replaces the file it names (beside which the temporary file is made),
    keeping the link: a settings file linked to a persistent partition stays there."""
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        if keep_owner and target.exists():
            st = target.stat()
            os.chmod(tmp, st.st_mode & 0o7777)
            with contextlib.suppress(PermissionError):
                os.chown(tmp, st.st_uid, st.st_gid)
        elif mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(target.parent)


@contextmanager
def atomic_writer(path: str | Path, *, mode: int | None = None, keep_owner: bool = False) -> Iterator[TextIO]:
    """Open a temporary text file for writing; on success it replaces `path` durably, on failure it is removed.

    `mode` sets the new file's permission bits; `keep_owner` copies the owner, group and mode of the file
    being replaced (a config file edited by root for a service user).
    """
    with _replacing(path, mode=mode, keep_owner=keep_owner) as tmp, \
            open(tmp, "w", encoding="utf-8", newline="") as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def atomic_write(path: str | Path, data: bytes | str, *, mode: int | None = None,
                 keep_owner: bool = False) -> Path:
    """Replace `path` with `data` (see `atomic_writer`)."""
    if isinstance(data, str):
        with atomic_writer(path, mode=mode, keep_owner=keep_owner) as f:
            f.write(data)
        return Path(path)
    with _replacing(path, mode=mode, keep_owner=keep_owner) as tmp, open(tmp, "wb") as fb:
        fb.write(data)
        fb.flush()
        os.fsync(fb.fileno())
    return Path(path)


def atomic_write_json(path: str | Path, data: Json, *, indent: int | None = 1) -> Path:
    """Replace `path` with `data` as JSON (UTF-8, keys sorted)."""
    text = json.dumps(data, ensure_ascii=False, indent=indent, sort_keys=True)
    return atomic_write(path, text)


def connect(path: str | Path, *, synchronous: str = "FULL", timeout: float = 30.0, readonly: bool = False,
            row_factory: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL for files, a busy timeout.

    `readonly` opens an existing file without creating it or taking locks a writer would wait for.
    Raises `sqlite3.Error` (callers wrap it in their package's error with the path).
    """
    p = str(path)
    if readonly:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, isolation_level=None, timeout=timeout,
                               check_same_thread=False)
    else:
        if p != ":memory:":
            try:
                Path(p).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:  # the contract: sqlite3.Error, which callers name with their path
                raise sqlite3.OperationalError(f"cannot create the folder {Path(p).parent}: {e.strerror}") from e
        conn = sqlite3.connect(p, isolation_level=None, timeout=timeout, check_same_thread=False)
        if p != ":memory:":
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.close()
                raise sqlite3.OperationalError(f"cannot switch {p} to WAL mode (got {mode})")
        conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    if row_factory:
        conn.row_factory = sqlite3.Row
    return conn


@contextmanager
def immediate_transaction(conn: sqlite3.Connection, *, write_lock: bool = True) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE (take the write lock now, not halfway), COMMIT, or ROLLBACK on any exception.

    `write_lock=False` begins without taking the database's write lock, for a transaction that writes
    only the connection's TEMP tables (which no other connection sees or waits for).
    """
    conn.execute("BEGIN IMMEDIATE" if write_lock else "BEGIN")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (disk full) may already have rolled back.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration], *, name: str = "database") -> int:
    """Bring the schema up to date, each step in its own transaction; return the final version.

    `migrations[N-1]` brings a database from `user_version` N-1 to N; the list is append-only.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(migrations):
        raise SchemaTooNew(name, version, len(migrations))
    for target in range(version + 1, len(migrations) + 1):
        step = migrations[target - 1]
        with immediate_transaction(conn):
            if callable(step):
                step(conn)
            else:
                for stmt in filter(str.strip, step.split(";")):
                    conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {target}")
    return len(migrations)
