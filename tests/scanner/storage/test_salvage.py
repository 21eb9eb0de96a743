"""Salvaging a real visit log damaged for real: every readable row comes back unchanged, the rest is counted,
and a device starting on a damaged log keeps the recovered visits and says so until acknowledged."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from scanner.config import Settings
from scanner.storage.chain import chain_hash
from scanner.storage.salvage import salvage
from scanner.storage.stores import open_stores
from scanner.storage.visitlog import VisitLog
from tests.helpers.damage import is_damaged, overwrite_pages, root_page, truncate, written_log, zero_header


def _by_seq(rows):
    return {r["seq"]: r for r in rows}


def test_overwritten_pages_cost_their_rows_only(tmp_path: Path) -> None:
    path = tmp_path / "visits.sqlite.bad-1"
    log_id, rows = written_log(path, 2000, synced=500)
    overwrite_pages(path, (40, 120, 200))
    assert is_damaged(path)
    before = path.read_bytes()

    s = salvage(path)

    assert path.read_bytes() == before  # read from a copy: the damaged file stays as it was
    assert s.complete and s.problem is None and s.log_id == log_id
    assert 1900 <= s.recovered < 2000 and s.recovered + s.unreadable == 2000
    original = _by_seq(rows)
    # Every row read is the row written, field for field; none the hub acknowledged is kept again.
    assert all(original[r["seq"]] == r for r in s.rows)
    assert all(r["seq"] > 500 for r in s.rows) and s.already_synced == s.recovered - len(s.rows)
    assert all(chain_hash(r["prev_chain"], r) == r["chain"] for r in s.rows) and s.altered == 0


def test_a_zeroed_header_is_rebuilt_on_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "visits.sqlite.bad-1"
    log_id, rows = written_log(path, 300)
    zero_header(path)
    assert is_damaged(path)

    s = salvage(path)

    assert (s.log_id, s.recovered, s.unreadable) == (log_id, 300, 0)
    assert s.rows == rows
    assert path.read_bytes()[:16] == bytes(16)


def test_a_truncated_file_gives_what_it_holds_and_says_it_is_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "visits.sqlite.bad-1"
    _, rows = written_log(path, 1500)
    truncate(path, 0.6)

    s = salvage(path)

    assert 0 < s.recovered < 1500
    assert all(_by_seq(rows)[r["seq"]] == r for r in s.rows)
    # The rows past the cut are not known one by one: the header says how many pages are gone.
    assert s.recovered + s.unreadable <= 1500 and s.missing_pages > 0


def test_the_newest_visits_in_the_wal_are_read_too(tmp_path: Path) -> None:
    path = tmp_path / "visits.sqlite"
    _, rows = written_log(path, 400, keep_wal=50)
    # Set aside the way `keys.durable.set_aside_database` names them.
    path.rename(tmp_path / "visits.sqlite.bad-1")
    (tmp_path / "visits.sqlite-wal").rename(tmp_path / "visits.sqlite-wal.bad-1")
    overwrite_pages(tmp_path / "visits.sqlite.bad-1", (10,))

    s = salvage(tmp_path / "visits.sqlite.bad-1")

    seqs = {r["seq"] for r in s.rows}
    assert set(range(351, 401)) <= seqs  # the 50 only the WAL held
    assert all(_by_seq(rows)[r["seq"]] == r for r in s.rows)


def test_a_file_with_nothing_readable_says_so(tmp_path: Path) -> None:
    path = tmp_path / "visits.sqlite.bad-1"
    path.write_bytes(b"garbage" * 3000)
    s = salvage(path)
    assert s.recovered == 0 and s.rows == [] and "no visits table" in (s.problem or "")


def test_a_salvage_stops_at_its_deadline(tmp_path: Path) -> None:
    path = tmp_path / "visits.sqlite.bad-1"
    written_log(path, 100)
    s = salvage(path, deadline=time.monotonic() - 1)
    assert not s.complete


@pytest.mark.parametrize("damage", ["pages", "header"])
def test_a_device_starting_on_a_damaged_log_keeps_its_visits_and_says_so(tmp_path: Path, damage: str) -> None:
    log_id, rows = written_log(tmp_path / "visits.sqlite", 1200, synced=200)
    if damage == "pages":
        # The meta table's page too: the log cannot be opened, as when the damage is found at a start.
        overwrite_pages(tmp_path / "visits.sqlite", (30, 90, root_page(tmp_path / "visits.sqlite", "meta")))
    else:
        zero_header(tmp_path / "visits.sqlite")

    stores = open_stores(Settings(), require_trust=False, data_dir=tmp_path)
    try:
        new = stores.visit_log
        assert new is not None and new.log_id != log_id
        (record,) = new.recovered.salvages()
        assert record.source == "visits.sqlite.bad-1"
        # With its meta page gone, the damaged log's id is derived from its first row, the same at every salvage.
        again = salvage(tmp_path / "visits.sqlite.bad-1").upload_log_id
        assert record.log_id == (log_id if damage == "header" else again)
        assert record.recovered + record.unreadable == 1200 and record.already_synced <= 200
        assert record.kept == record.recovered - record.already_synced >= 1000 - record.unreadable
        assert new.pending_count() == record.kept
        batch = new.recovered.pending(5000)
        assert batch is not None and batch[0] == record.log_id
        assert all(_by_seq(rows)[r["seq"]] == r for r in batch[1])
        state = new.storage()
        assert state.alarm and state.damage and "visits.sqlite.bad-1" in state.message
        assert f"{record.recovered} visits recovered, {record.unreadable} could not be read" in state.damage
        # The new log's own chain is untouched by what it keeps.
        assert new.verify().ok and new.count() == 0
    finally:
        stores.close()

    # A restart does not clear the notice; an acknowledgement does, and the visits still go to the hub.
    with VisitLog(tmp_path / "visits.sqlite") as again:
        assert again.storage().damage
        assert again.recovered.acknowledge() == 1
        assert again.storage().damage == "" and not again.storage().alarm
        assert again.pending_count() == record.kept
        lid, first = again.recovered.pending(100) or ("", [])
        assert again.recovered.mark_synced(lid, [r["visit_id"] for r in first]) == 100
        assert again.pending_count() == record.kept - 100


def test_salvaging_the_same_file_again_keeps_each_visit_once(tmp_path: Path) -> None:
    damaged = tmp_path / "visits.sqlite.bad-1"
    written_log(damaged, 300)
    overwrite_pages(damaged, (12,))
    with VisitLog(tmp_path / "visits.sqlite") as log:
        first = log.recovered.add(salvage(damaged))
        assert first > 0 and log.recovered.add(salvage(damaged)) == 0
        assert log.recovered.pending_count() == first


def test_visits_recovered_once_survive_a_second_damage_before_their_upload(tmp_path: Path) -> None:
    first = tmp_path / "visits.sqlite.bad-1"
    _, first_rows = written_log(first, 150)
    overwrite_pages(first, (6,))
    first_id = salvage(first).upload_log_id
    second = tmp_path / "visits.sqlite"
    # The log started after the first damage: its own visits, and the first log's recovered ones not sent yet.
    second_id, second_rows = written_log(second, 400)
    with VisitLog(second) as log:
        kept = log.recovered.add(salvage(first))
    overwrite_pages(second, (12,))
    second.rename(tmp_path / "visits.sqlite.bad-2")

    with VisitLog(tmp_path / "visits.sqlite") as third:
        third.recovered.add(salvage(tmp_path / "visits.sqlite.bad-2"))
        by_log: dict[str, list] = {}
        while (batch := third.recovered.pending(1000)) is not None:
            by_log.setdefault(batch[0], []).extend(batch[1])
            third.recovered.mark_synced(batch[0], [r["visit_id"] for r in batch[1]])
        assert third.pending_count() == 0
    assert kept > 100 and len(by_log[first_id]) == kept
    assert all(_by_seq(first_rows)[r["seq"]] == r for r in by_log[first_id])
    assert 300 < len(by_log[second_id]) <= 400 and all(_by_seq(second_rows)[r["seq"]] == r for r in by_log[second_id])


def test_a_salvage_finished_by_command_replaces_the_start_ups_unfinished_notice(tmp_path: Path) -> None:
    damaged = tmp_path / "visits.sqlite.bad-1"
    written_log(damaged, 300)
    with VisitLog(tmp_path / "visits.sqlite") as log:
        log.recovered.add(salvage(damaged, deadline=time.monotonic() - 1))
        assert "salvage stopped early: run `checkpoint log salvage visits.sqlite.bad-1`" in log.recovered.notice()
        log.recovered.add(salvage(damaged))
        notice = log.recovered.notice()
        assert "stopped early" not in notice and "300 visits recovered, 0 could not be read" in notice
        assert log.pending_count() == 300


def test_a_file_too_large_for_the_start_is_left_to_the_command(tmp_path: Path, monkeypatch) -> None:
    from scanner.storage import stores as stores_module

    written_log(tmp_path / "visits.sqlite", 200)
    zero_header(tmp_path / "visits.sqlite")
    monkeypatch.setattr(stores_module, "START_SALVAGE_BYTES", 4096)
    stores = open_stores(Settings(), require_trust=False, data_dir=tmp_path)
    try:
        assert stores.visit_log is not None
        (record,) = stores.visit_log.recovered.salvages()
        assert not record.complete and record.recovered == 0 and "too large to read at start-up" in record.problem
        assert "run `checkpoint log salvage visits.sqlite.bad-1`" in stores.visit_log.storage().damage
        assert stores.visit_log.pending_count() == 0
    finally:
        stores.close()


def test_a_row_changed_by_the_damage_is_kept_as_read_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "visits.sqlite.bad-1"
    _, rows = written_log(path, 120)
    # A flipped bit inside one record: still a well-typed row, but no longer the one its chain hash covers.
    conn = sqlite3.connect(path)
    conn.execute("UPDATE visits SET admit = 1 - admit WHERE seq = 77")
    conn.commit()
    conn.close()

    s = salvage(path)

    assert (s.recovered, s.altered, s.unreadable) == (120, 1, 0)
    changed = _by_seq(s.rows)[77]
    assert changed["admit"] is not _by_seq(rows)[77]["admit"] and changed["chain"] == _by_seq(rows)[77]["chain"]
    assert all(_by_seq(rows)[r["seq"]] == r for r in s.rows if r["seq"] != 77)


def test_recovered_visits_the_hub_acknowledged_are_not_carried_into_the_next_log(tmp_path: Path) -> None:
    first = tmp_path / "visits.sqlite.bad-1"
    written_log(first, 150)
    second = tmp_path / "visits.sqlite.bad-2"
    written_log(second, 20)
    with VisitLog(second) as log:
        kept = log.recovered.add(salvage(first))
        lid, sent = log.recovered.pending(40) or ("", [])
        assert log.recovered.mark_synced(lid, [r["visit_id"] for r in sent]) == 40

    s = salvage(second)

    acknowledged = {r["visit_id"] for r in sent}
    assert kept == 150 and len(s.carried) == 110
    assert all(lid == carried_lid and r["visit_id"] not in acknowledged for carried_lid, r in s.carried)


def test_a_row_whose_chain_hash_is_garbled_is_counted_unreadable(tmp_path: Path) -> None:
    """A chain hash that is no longer 64 hex digits cannot link or be checked: the row is not sent, it is counted."""
    path = tmp_path / "visits.sqlite.bad-1"
    _, rows = written_log(path, 60)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE visits SET chain = 'Z' || substr(chain, 2) WHERE seq = 20")
    conn.execute("UPDATE visits SET prev_chain = substr(prev_chain, 2) WHERE seq = 30")
    conn.commit()
    conn.close()

    s = salvage(path)

    assert (s.recovered, s.unreadable) == (58, 2) and {20, 30}.isdisjoint(r["seq"] for r in s.rows)
    assert all(_by_seq(rows)[r["seq"]] == r for r in s.rows)
