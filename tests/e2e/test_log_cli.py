"""`checkpoint log verify` and `checkpoint log export` as real commands on a real visit log."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest

from scanner.storage.chain import new_visit_id
from scanner.storage.visitlog import VisitLog, VisitRecord
from tests.helpers.cli import checkpoint

T0 = 1767225600  # 2026-01-01T00:00:00Z



@pytest.fixture
def data_dir(tmp_path):
    with VisitLog(tmp_path / "visits.sqlite") as log:
        for day in range(3):
            at = T0 + day * 86400
            log.append(VisitRecord(visit_id=new_visit_id(at), ts_ms=at * 1000, device_id="dev-1",
                                   checkpoint_id="school-gate", profile="school", clock_trusted=True,
                                   verdict="ok", admit=True, tone="pass", status="green",
                                   extra={"school": {"role": "student", "direction": "in", "group": "3-2",
                                                     "temperature_dc": 366}}))
    return tmp_path


def test_verify_ok_then_detects_an_edit(data_dir):
    ok = checkpoint("log", "verify", "--data-dir", str(data_dir))
    assert ok.returncode == 0 and "ok: 3 rows, chain intact, 3 not yet synced" in ok.stdout
    conn = sqlite3.connect(data_dir / "visits.sqlite")
    conn.execute("UPDATE visits SET admit = 0 WHERE seq = 2")
    conn.commit()
    conn.close()
    bad = checkpoint("log", "verify", "--db", str(data_dir / "visits.sqlite"))
    assert bad.returncode == 1 and "chain BROKEN at row 2" in bad.stdout


def test_export_jsonl_to_stdout_and_csv_to_a_file_since_a_date(data_dir, tmp_path):
    out = checkpoint("log", "export", "--data-dir", str(data_dir), "--since", "2026-01-02")
    assert out.returncode == 0
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert [r["seq"] for r in rows] == [2, 3]
    assert rows[0]["extra"]["school"]["temperature_dc"] == 366
    target = tmp_path / "usb" / "visits.csv"
    target.parent.mkdir()
    out = checkpoint("log", "export", "--data-dir", str(data_dir), "--format", "csv", "-o", str(target),
                     "--since", str(T0 + 86400 * 2))
    assert out.returncode == 0 and "exported 1 visits" in out.stderr
    (row,) = csv.DictReader(target.open(encoding="utf-8"))
    assert row["seq"] == "3" and row["checkpoint_id"] == "school-gate"
    assert not list(target.parent.glob("*.part"))


def test_clear_errors_for_bad_input(tmp_path, data_dir):
    missing = checkpoint("log", "verify", "--data-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    bad_since = checkpoint("log", "export", "--data-dir", str(data_dir), "--since", "last tuesday")
    assert bad_since.returncode == 2 and "--since 'last tuesday'" in bad_since.stderr


def test_verify_checks_signed_checkpoints_with_the_device_certificate(data_dir, tmp_path):
    from keys.deviceca import enroll, init_ca
    from keys.keyfile import load_private_key
    from scanner.storage.chain import checkpoint_message, sign_checkpoint

    init_ca(tmp_path / "ca")
    creds = enroll(tmp_path / "ca", "dev-1", tmp_path / "tls")
    key = load_private_key(creds.key)
    with VisitLog(data_dir / "visits.sqlite") as log:
        seq, chain = log.head()
        log.add_checkpoint(seq, chain, sign_checkpoint(key, checkpoint_message("dev-1", log.log_id, seq, chain)))
    args = ("log", "verify", "--data-dir", str(data_dir), "--device-cert", str(creds.cert), "--device-id", "dev-1")
    ok = checkpoint(*args)
    assert ok.returncode == 0 and "anchored up to seq 3" in ok.stdout, ok.stdout + ok.stderr
    conn = sqlite3.connect(data_dir / "visits.sqlite")
    conn.execute("DELETE FROM outbox WHERE seq = 3")
    conn.execute("DELETE FROM visits WHERE seq = 3")
    conn.commit()
    conn.close()
    bad = checkpoint(*args)
    assert bad.returncode == 1 and "tail cut" in bad.stdout
    other = checkpoint("log", "verify", "--data-dir", str(data_dir), "--device-cert", str(creds.cert),
                       "--device-id", "dev-2")
    assert other.returncode == 1 and "signature does not verify" in other.stdout


def test_salvage_a_damaged_log_then_acknowledge_the_notice(tmp_path):
    from tests.helpers.damage import overwrite_pages, written_log

    damaged = tmp_path / "visits.sqlite.bad-2"
    log_id, _ = written_log(damaged, 600, synced=100)
    overwrite_pages(damaged, (9, 25))
    VisitLog(tmp_path / "visits.sqlite").close()

    out = checkpoint("log", "salvage", str(damaged), "--data-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert f"{damaged}: " in out.stdout and "visits recovered" in out.stdout and "could not be read" in out.stdout
    assert "checkpoint log acknowledge" in out.stdout
    with VisitLog(tmp_path / "visits.sqlite") as log:
        (s,) = log.recovered.salvages()
        assert s.log_id == log_id and s.recovered + s.unreadable == 600 and log.pending_count() == s.kept
    # The new log's chain is what it was: the recovered visits sit beside it.
    assert checkpoint("log", "verify", "--data-dir", str(tmp_path)).returncode == 0

    ack = checkpoint("log", "acknowledge", "--data-dir", str(tmp_path))
    assert ack.returncode == 0 and "acknowledged: visit log damaged (visits.sqlite.bad-2)" in ack.stdout
    assert f"{s.kept} recovered visits are still to upload" in ack.stdout
    again = checkpoint("log", "acknowledge", "--data-dir", str(tmp_path))
    assert "nothing to acknowledge" in again.stdout


def test_salvage_refuses_the_log_in_use_and_a_missing_file(data_dir):
    live = checkpoint("log", "salvage", str(data_dir / "visits.sqlite"), "--data-dir", str(data_dir))
    assert live.returncode != 0 and "is the visit log in use" in live.stderr and "Traceback" not in live.stderr
    missing = checkpoint("log", "salvage", str(data_dir / "nope.bad-1"), "--data-dir", str(data_dir))
    assert missing.returncode != 0 and "no such file" in missing.stderr


def test_salvage_refuses_another_devices_visits(tmp_path):
    from tests.helpers.damage import overwrite_pages, written_log

    damaged = tmp_path / "visits.sqlite.bad-1"
    written_log(damaged, 100, device_id="gate-9")
    overwrite_pages(damaged, (3,))
    cfg = tmp_path / "device.toml"
    cfg.write_text(f'[device]\nid = "gate-1"\ndata_dir = "{tmp_path}"\n')
    VisitLog(tmp_path / "visits.sqlite").close()
    out = checkpoint("log", "salvage", str(damaged), "--config", str(cfg))
    assert out.returncode != 0 and "holds visits of device gate-9, not of gate-1" in out.stderr
    with VisitLog(tmp_path / "visits.sqlite") as log:
        assert log.recovered.salvages() == [] and log.pending_count() == 0


def test_export_carries_the_recovered_visits_marked_with_their_log(tmp_path):
    from scanner.storage.salvage import salvage
    from tests.helpers.damage import overwrite_pages, written_log

    damaged = tmp_path / "visits.sqlite.bad-1"
    old_id, old_rows = written_log(damaged, 120)
    overwrite_pages(damaged, (3,))
    with VisitLog(tmp_path / "visits.sqlite") as log:
        log.append(VisitRecord(visit_id=new_visit_id(T0), ts_ms=T0 * 1000, device_id="dev-1", checkpoint_id="east",
                               profile="transport", clock_trusted=True, verdict="ok", admit=True, tone="pass"))
        kept = log.recovered.add(salvage(damaged))
    out = checkpoint("log", "export", "--data-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(lines) == 1 + kept and "recovered_from_log" not in lines[0]
    original = {r["visit_id"]: r for r in old_rows}
    for line in lines[1:]:
        assert line.pop("recovered_from_log") == old_id and line == original[line["visit_id"]]
    table = list(csv.DictReader(checkpoint("log", "export", "--data-dir", str(tmp_path), "--format", "csv")
                                .stdout.splitlines()))
    assert len(table) == 1 + kept and table[0]["recovered_from_log"] == ""
    assert {r["recovered_from_log"] for r in table[1:]} == {old_id}
