"""A visit log whose damage shows only while running (its header and schema intact, a data page not): the
damage is noted and shown at once, the next start confirms it and salvages the log, and a process still
holding the old file knows it must be restarted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from scanner.config import Settings
from scanner.errors import StorageError
from scanner.service.watchdog import Heartbeat
from scanner.storage.damagenote import damage_noted, note_damage, note_path
from scanner.storage.stores import open_stores
from scanner.storage.visitlog import VisitLog
from tests.helpers.damage import overwrite_pages, written_log


def test_damage_met_while_running_is_noted_then_salvaged_at_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "visits.sqlite"
    log_id, rows = written_log(path, 1200, synced=200)
    overwrite_pages(path, (30, 90))

    with VisitLog(path) as running:  # it opens: the damaged pages are not read yet
        assert running.storage().damage == ""
        with pytest.raises(StorageError, match="malformed"):
            list(running.rows())  # an export reaches them
        assert damage_noted(path) is not None
        state = running.storage()
        assert state.alarm and "restart to set it aside and salvage its visits" in state.damage

    stores = open_stores(Settings(), require_trust=False, data_dir=tmp_path)
    try:
        new = stores.visit_log
        assert new is not None and new.log_id != log_id and (tmp_path / "visits.sqlite.bad-1").exists()
        (record,) = new.recovered.salvages()
        assert record.log_id == log_id and record.recovered + record.unreadable == 1200 and record.unreadable > 0
        assert not note_path(path).exists() and "restart" not in new.storage().damage
        assert "visit log damaged (visits.sqlite.bad-1)" in new.storage().damage
        originals = {r["visit_id"]: r for r in rows}
        batch = new.recovered.pending(5000)
        assert batch is not None and all(originals[r["visit_id"]] == r for r in batch[1])
    finally:
        stores.close()


def test_a_note_the_file_does_not_bear_out_is_cleared(tmp_path: Path) -> None:
    path = tmp_path / "visits.sqlite"
    log_id, _ = written_log(path, 50)
    note_damage(path, "cannot read: database disk image is malformed")
    stores = open_stores(Settings(), require_trust=False, data_dir=tmp_path)
    try:
        assert stores.visit_log is not None and stores.visit_log.log_id == log_id
        assert not note_path(path).exists() and stores.visit_log.storage().damage == ""
        assert not list(tmp_path.glob("*.bad-*"))
    finally:
        stores.close()


def test_a_process_holding_a_log_set_aside_by_another_is_restarted(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "visits.sqlite"
    written_log(path, 20)
    old = VisitLog(path)
    try:
        assert not old.replaced()
        monkeypatch.setenv("WATCHDOG_USEC", "20000000")
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        beat = Heartbeat.for_kiosk(last_frame=time.monotonic, alive=lambda: True, clock=None,
                                   log_replaced=old.replaced)
        assert beat.watchdog is not None and beat.watchdog.check() is None
        path.rename(tmp_path / "visits.sqlite.bad-1")  # what `set_aside_database` does in another process
        VisitLog(path).close()
        assert old.replaced()
        # The watchdog is withheld: systemd restarts the kiosk or gate on the new log.
        assert beat.watchdog.check() == "visit log file not alive"
    finally:
        old.close()
