"""Visit logs damaged for real: a real log written with real rows, then its bytes overwritten, its header
zeroed or its file cut short, the way a worn SD card or a power cut leaves them."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from scanner.storage.chain import ChainedVisitRow
from scanner.storage.visitlog import VisitLog
from tests.helpers.visits import fill

PAGE = 4096


def written_log(path: Path, n: int, *, synced: int = 0, device_id: str = "dev-1",
                keep_wal: int = 0) -> tuple[str, list[ChainedVisitRow]]:
    """A log of `n` visits (the first `synced` acknowledged by the hub); its id and its rows.

    With `keep_wal`, the last `keep_wal` visits are left in the WAL file beside it, as a power cut leaves
    them (the log's files are copied while it is open)."""
    tmp = path.with_name(path.name + ".writing")
    with VisitLog(tmp) as log:
        ids = fill(log, n - keep_wal, device_id)
        log.mark_synced(ids[:synced])
        log._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log._conn.execute("PRAGMA wal_autocheckpoint = 0")
        fill(log, keep_wal, device_id)
        rows = list(log.rows())
        log_id = log.log_id
        shutil.copyfile(tmp, path)
        wal = tmp.with_name(tmp.name + "-wal")
        if keep_wal and wal.exists():
            shutil.copyfile(wal, path.with_name(path.name + "-wal"))
    for f in tmp.parent.glob(tmp.name + "*"):
        f.unlink()
    return log_id, rows


def overwrite_pages(path: Path, pages: tuple[int, ...]) -> None:
    """Random bytes over most of each page (its first bytes, the page header, included)."""
    data = bytearray(path.read_bytes())
    for page in pages:
        data[page * PAGE + 8:page * PAGE + PAGE - 100] = os.urandom(PAGE - 108)
    path.write_bytes(bytes(data))


def root_page(path: Path, table: str) -> int:
    """The page (0-based, as `overwrite_pages` counts) holding a table's root, read before the damage."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]) - 1
    finally:
        conn.close()


def zero_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:100] = bytes(100)
    path.write_bytes(bytes(data))


def truncate(path: Path, keep: float) -> None:
    """Cut the file to `keep` of its length, on no page boundary."""
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep) + 123])


def is_damaged(path: Path) -> bool:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok"
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return True
