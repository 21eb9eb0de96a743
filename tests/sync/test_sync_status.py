"""`sync-status.json`: written atomically by the agent, read defensively by the kiosk side."""

from __future__ import annotations

import json
import subprocess
import sys

from scanner.storage.syncstate import STATUS_FILE, SyncStatus, read_status, write_status
from tests.helpers.faultproxy import ROOT


def test_round_trip_and_no_temporary_files_left(tmp_path):
    st = SyncStatus(online=True, pending=3, hub_time_offset=-1.25, hub_time_measured_at=1767225600.0,
                    trust_list={"version": 4, "age": 60.0}, status_lists={"CN-ZJ": {"version": 9}})
    write_status(tmp_path, st)
    assert read_status(tmp_path) == st
    assert [p.name for p in tmp_path.iterdir()] == [STATUS_FILE]
    raw = json.loads((tmp_path / STATUS_FILE).read_text())
    assert raw["hub_time_offset"] == -1.25 and raw["pending"] == 3


def test_unreadable_or_foreign_files_read_as_none_and_unknown_keys_are_ignored(tmp_path):
    assert read_status(tmp_path) is None
    (tmp_path / STATUS_FILE).write_text("{half")
    assert read_status(tmp_path) is None
    (tmp_path / STATUS_FILE).write_text("[1, 2]")
    assert read_status(tmp_path) is None
    (tmp_path / STATUS_FILE).write_text('{"online": true, "from_the_future": 1}')
    assert read_status(tmp_path) == SyncStatus(online=True)


def test_fields_of_another_type_keep_their_defaults_and_the_rest_is_read(tmp_path):
    """A damaged or foreign file: the kiosk, the gate and the agent read what fits and never fail on the rest."""
    (tmp_path / STATUS_FILE).write_text(json.dumps({
        "online": "yes", "pending": "x", "hub_time_offset": "nan", "hub_time_measured_at": True, "last_error": 5,
        "status_lists": {"CN": [1]}, "steps": [], "uploaded_total": 7, "last_success": 1.5, "updated_at": 2}))
    assert read_status(tmp_path) == SyncStatus(uploaded_total=7, last_success=1.5, updated_at=2)


def test_cli_prints_the_status_and_fails_without_one(tmp_path):
    def run():
        return subprocess.run([sys.executable, "-m", "scanner.cli", "sync", "--status", "--data-dir", str(tmp_path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert run().returncode == 1
    write_status(tmp_path, SyncStatus(pending=7))
    out = run()
    assert out.returncode == 0 and json.loads(out.stdout)["pending"] == 7


def test_openapi_document_is_written(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sync.hub", "openapi", "-o", str(tmp_path / "openapi.json")], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "openapi.json").read_text())
    assert doc["info"]["title"] == "Checkpoint reference hub"
    assert "UploadBatch" in json.dumps(doc["paths"]["/v1/visits"]["post"])
