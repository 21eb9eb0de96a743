"""The visit log on a real SQLite file: durability settings, outbox, chain checks, retention, cap, export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time

import pytest

from scanner.errors import InputError, StorageError
from scanner.storage.chain import new_visit_id
from scanner.storage.schema import MIGRATIONS
from scanner.storage.visitlog import VisitLog, VisitRecord

NOW = 1767225600.0


def record(i: int = 0, *, ts: float = NOW, extra: dict | None = None) -> VisitRecord:
    return VisitRecord(visit_id=new_visit_id(ts), ts_ms=int(ts * 1000) + i, device_id="dev-1",
                       checkpoint_id="gate-1", profile="transport", clock_trusted=True, verdict="ok",
                       admit=True, tone="pass", format="HCC1", issuer="CN-ZJ", code_id=f"{i:032x}",
                       subject="ab" * 16, code_type="personal", status="green", trust_list_version=42,
                       status_list_version=1001, latency_ms=7, extra=extra or {})


@pytest.fixture
def log(tmp_path):
    with VisitLog(tmp_path / "visits.sqlite") as vl:
        yield vl


def test_opens_in_wal_with_full_sync_and_current_schema(tmp_path, log):
    conn = sqlite3.connect(tmp_path / "visits.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert log._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    conn.close()


def test_append_writes_visit_and_outbox_together_and_reopens(tmp_path, log):
    stored = [log.append(record(i)) for i in range(3)]
    assert [s.seq for s in stored] == [1, 2, 3]
    log.close()
    with VisitLog(tmp_path / "visits.sqlite") as again:
        assert again.count() == 3
        assert again.pending_count() == 3
        assert [r["visit_id"] for r in again.pending(10)] == [s.visit_id for s in stored]
        assert again.verify().ok


def test_no_names_column_and_unknown_extra_refused(log):
    cols = {r[1] for r in log._conn.execute("PRAGMA table_info(visits)")}
    assert not any("name" in c for c in cols)
    with pytest.raises(InputError, match=r"extra\.holder_name"):
        log.append(record(extra={"holder_name": "Zhang"}))
    assert log.count() == 0


def test_duplicate_visit_id_is_refused_and_nothing_half_written(log):
    rec = record()
    log.append(rec)
    with pytest.raises(InputError, match="already logged"):
        log.append(rec)
    assert log.count() == 1 and log.pending_count() == 1


def test_mark_synced_removes_only_acknowledged_outbox_rows(log):
    ids = [log.append(record(i)).visit_id for i in range(5)]
    assert log.mark_synced(ids[:2], at=NOW) == 2
    assert log.mark_synced(ids[:2], at=NOW) == 0
    assert [r["visit_id"] for r in log.pending(10)] == ids[2:]
    assert [r["visit_id"] for r in log.pending(10, after_seq=4)] == ids[4:]
    assert log.pending_count() == 3


def test_verify_detects_edit_deletion_and_head_deletion(tmp_path, log):
    for i in range(6):
        log.append(record(i))
    assert log.verify().ok and log.verify().rows == 6
    log._conn.execute("UPDATE visits SET verdict = 'expired' WHERE seq = 3")
    rep = log.verify()
    assert (rep.ok, rep.bad_seq) == (False, 3) and "edited" in rep.problem
    log._conn.execute("UPDATE visits SET verdict = 'ok' WHERE seq = 3")
    log._conn.execute("DELETE FROM outbox WHERE seq = 4")
    log._conn.execute("DELETE FROM visits WHERE seq = 4")
    rep = log.verify()
    assert (rep.ok, rep.bad_seq) == (False, 5) and "missing" in rep.problem
    log._conn.execute("DELETE FROM outbox")
    log._conn.execute("DELETE FROM visits WHERE seq = 1")
    rep = log.verify()
    assert (rep.ok, rep.bad_seq) == (False, 2)


def test_retention_purges_only_old_synced_rows_and_chain_still_verifies(log):
    day = 86400
    old = [log.append(record(i, ts=NOW - 40 * day)).visit_id for i in range(4)]
    recent = log.append(record(9, ts=NOW - day)).visit_id
    log.mark_synced([old[0], old[1], old[3], recent], at=NOW)  # old[2] still unsynced
    assert log.purge(28, now=NOW) == 2  # old[3] stays behind the unsynced old[2]
    assert [r["visit_id"] for r in log.rows()] == [old[2], old[3], recent]
    assert log.verify().ok
    log.mark_synced([old[2]], at=NOW)
    assert log.purge(28, now=NOW) == 2
    assert [r["visit_id"] for r in log.rows()] == [recent]
    assert log.verify().ok
    nxt = log.append(record(10))
    assert nxt.seq == 6 and log.verify().ok
    log.mark_synced([recent, nxt.visit_id], at=NOW)
    assert log.purge(0, now=NOW + 10) == 2 and log.count() == 0
    assert log.append(record(11)).seq == 7 and log.verify().ok


def test_disk_full_is_a_clear_error_without_corruption_and_recovers(tmp_path):
    path = tmp_path / "visits.sqlite"
    log = VisitLog(path, storage_cap_mb=0.1, alarm_percent=50)
    written = []
    with pytest.raises(StorageError, match="storage full"):
        for i in range(10_000):
            written.append(log.append(record(i, extra={"school": {"role": "student", "direction": "in",
                                                                  "group": "x" * 16}})).visit_id)
    state = log.storage()
    assert state.full and state.alarm and "full" in state.message
    assert log.integrity_check() == "ok"
    assert log.verify().ok and log.count() == len(written) == log.pending_count()
    log.set_cap(10)
    log.append(record(99_999))
    assert not log.storage().full
    assert log.verify().ok and log.count() == len(written) + 1
    log.close()


def test_storage_alarm_before_the_cap(tmp_path):
    with VisitLog(tmp_path / "visits.sqlite", storage_cap_mb=0.5, alarm_percent=20) as log:
        assert not log.storage().alarm
        for i in range(400):
            log.append(record(i))
            if log.storage().alarm:
                break
        state = log.storage()
        assert state.alarm and not state.full and "storage cap" in state.message


def test_export_jsonl_and_csv_since(log):
    for i in range(3):
        log.append(record(i, ts=NOW + i * 60, extra={"drug_categories": ["antitussive"]}))
    out = io.StringIO()
    assert log.export(out, fmt="jsonl", since_ms=int((NOW + 60) * 1000)) == 2
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["seq"] for x in lines] == [2, 3]
    assert lines[0]["extra"] == {"drug_categories": ["antitussive"]}
    out = io.StringIO()
    assert log.export(out, fmt="csv") == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[2]["chain"] == list(log.rows())[2]["chain"]
    assert json.loads(rows[0]["extra"]) == {"drug_categories": ["antitussive"]}
    with pytest.raises(InputError, match="xml"):
        log.export(io.StringIO(), fmt="xml")


def test_two_connections_append_concurrently_keep_one_chain(tmp_path):
    a = VisitLog(tmp_path / "visits.sqlite")
    b = VisitLog(tmp_path / "visits.sqlite")
    for i in range(20):
        (a if i % 2 else b).append(record(i, ts=time.time()))
    assert a.verify().ok and a.verify().rows == 20
    a.close()
    b.close()


def test_a_log_from_before_the_gate_fields_migrates_and_still_verifies(tmp_path):
    from dataclasses import asdict

    from keys.durable import connect, migrate
    from scanner.storage.chain import GENESIS, LATER_FIELDS, ROW_FIELDS, chain_hash

    path = tmp_path / "visits.sqlite"
    conn = connect(path)
    assert migrate(conn, MIGRATIONS[:2]) == 2
    old_fields = [f for f in ROW_FIELDS if f not in LATER_FIELDS]
    prev = GENESIS
    for i in range(2):
        row = {k: v for k, v in asdict(record(i)).items() if k not in LATER_FIELDS}
        row.update(seq=i + 1, prev_chain=prev)
        row["chain"] = prev = chain_hash(prev, row)
        conn.execute(f"INSERT INTO visits ({', '.join(old_fields)}) VALUES ({', '.join('?' * len(old_fields))})",
                     [json.dumps(row[f]) if f == "extra" else row[f] for f in old_fields])
        conn.execute("INSERT INTO outbox (seq, visit_id) VALUES (?, ?)", (row["seq"], row["visit_id"]))
    conn.close()
    with VisitLog(path) as vl:
        assert vl.verify().ok
        vl.append(VisitRecord(**{**asdict(record(5)), "decided_by": "guard", "gate": "open", "outcome": "green"}))
        rows = list(vl.rows())
        assert [r["decided_by"] for r in rows] == [None, None, "guard"] and rows[2]["gate"] == "open"
        assert vl.verify().ok
