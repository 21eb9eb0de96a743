"""The agent's health record: the appliance's own file (known fields only, its age) plus the agent's figures."""

from __future__ import annotations

import json

from scanner.storage.syncstate import SyncStatus
from sync.health import MAX_APPLIANCE_HEALTH, health_record, read_appliance_health


def test_record_joins_the_appliance_file_and_the_agent_state(tmp_path):
    (tmp_path / "appliance-health.json").write_text(json.dumps(
        {"software_version": "1.0", "written_at": 990.0, "camera": {"state": "ok", "fps": 9.5},
         "clock_trusted": True, "secret": "not sent"}))
    state = SyncStatus(pending=7, hub_time_offset=-0.25, storage={"alarm": True, "space_alarm": True},
                       trust_list={"version": 3, "age": 10.0, "etag": "x"},
                       status_lists={"CN": {"version": 5, "age": 20.0, "error": None, "etag": "y"}})
    rec = health_record(tmp_path, state, log_bytes=4096, started_at=900.0, clock_trusted=None, now=1000.0)
    assert rec["software_version"] == "1.0" and "secret" not in rec
    assert rec["appliance_age"] == 10.0 and rec["clock_trusted"] is True
    assert rec["pending_uploads"] == 7 and rec["storage_alarm"] is True and rec["visit_log_bytes"] == 4096
    assert rec["trust_list"] == {"version": 3, "age": 10.0, "error": None}
    assert rec["status_lists"] == {"CN": {"version": 5, "age": 20.0, "error": None}}
    assert rec["clock_offset"] == -0.25 and rec["agent_uptime"] == 100.0
    # The agent's own knowledge of the clock wins over the appliance's.
    assert health_record(tmp_path, state, log_bytes=None, started_at=900.0, clock_trusted=False,
                         now=1000.0)["clock_trusted"] is False


def test_a_missing_or_bad_appliance_file_is_reported_not_fatal(tmp_path):
    assert read_appliance_health(tmp_path) == {"state": "none"}
    path = tmp_path / "appliance-health.json"
    path.write_text("{not json")
    assert read_appliance_health(tmp_path) == {"state": "unreadable", "error": "not JSON"}
    path.write_text("[1]")
    assert read_appliance_health(tmp_path)["error"] == "not a JSON object"
    path.write_text(" " * (MAX_APPLIANCE_HEALTH + 1))
    assert "larger than" in read_appliance_health(tmp_path)["error"]
    rec = health_record(tmp_path, SyncStatus(), log_bytes=None, started_at=0.0, clock_trusted=None, now=1.0)
    assert rec["state"] == "unreadable" and rec["appliance_age"] is None
    assert rec["software_version"]  # the agent's own release when the appliance says nothing


def test_numbers_json_cannot_carry_are_refused_so_the_round_still_goes(tmp_path):
    """`1e999` reads as infinity and `NaN` as NaN: sent on, the round's request could not be encoded and the
    agent could not reach the hub at all while the file held them."""
    path = tmp_path / "appliance-health.json"
    for text in ('{"camera": {"state": "ok", "fps": 1e999}}', '{"last_decision_ts": NaN}',
                 '{"errors_since_start": -Infinity}'):
        path.write_text(text)
        assert read_appliance_health(tmp_path) == {"state": "unreadable", "error": "not JSON"}, text
        rec = health_record(tmp_path, SyncStatus(), log_bytes=None, started_at=0.0, clock_trusted=None, now=1.0)
        json.dumps(rec, allow_nan=False)  # what a request body must be


def test_storage_damage_is_sent_apart_from_the_storage_alarm(tmp_path):
    (tmp_path / "appliance-health.json").write_text(json.dumps(
        {"written_at": 990.0, "status_store_problem": "status store was damaged; kept as status.sqlite.bad-1"}))
    notice = "visit log damaged (visits.sqlite.bad-1): 12 visits recovered, 3 could not be read"
    state = SyncStatus(storage={"alarm": True, "space_alarm": False, "message": notice, "damage": notice,
                                "status_store": None})
    rec = health_record(tmp_path, state, log_bytes=1, started_at=900.0, clock_trusted=None, now=1000.0)
    # The damage raised the log's alarm; the cap's alarm is not raised by it.
    assert rec["visit_log_damage"] == notice and rec["storage_alarm"] is False
    assert rec["status_store_problem"] == "status store was damaged; kept as status.sqlite.bad-1"
    state.storage = {"alarm": True, "space_alarm": True, "message": f"{notice}; visit log 93% of its storage cap",
                     "damage": notice, "status_store": "the agent's own"}
    (tmp_path / "appliance-health.json").write_text(json.dumps({"written_at": 990.0}))
    rec = health_record(tmp_path, state, log_bytes=1, started_at=900.0, clock_trusted=None, now=1000.0)
    assert rec["storage_alarm"] is True and rec["status_store_problem"] == "the agent's own"


def test_the_storage_alarm_is_the_logs_space_alarm_whatever_the_damage_notice_says(tmp_path):
    """The agent puts other devices' kept salvaged visits in front of the log's damage notice; that is still
    no cap or disk alarm. `StorageState.space_alarm` says which the log's alarm is."""
    from scanner.storage.visitlog import StorageState

    notice = "visit log damaged (visits.sqlite.bad-1): 12 visits recovered"
    damaged = StorageState(1, 10, 10.0, 10**9, True, False, notice, notice)
    assert not damaged.space_alarm
    assert StorageState(9, 10, 93.0, 10**9, True, False, f"{notice}; visit log 93% of its cap", notice).space_alarm
    assert StorageState(9, 10, 93.0, 10**9, True, False, "visit log 93% of its cap").space_alarm
    assert not StorageState(1, 10, 10.0, 10**9, False, False, "").space_alarm
    state = SyncStatus(storage={"alarm": True, "space_alarm": damaged.space_alarm, "message": notice,
                                "damage": f"4 salvaged visits are of device dev-2: kept, not uploaded; {notice}"})
    rec = health_record(tmp_path, state, log_bytes=1, started_at=900.0, clock_trusted=None, now=1000.0)
    assert rec["storage_alarm"] is False and rec["visit_log_damage"].startswith("4 salvaged visits")
