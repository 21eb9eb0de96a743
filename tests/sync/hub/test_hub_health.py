"""Device health on the hub: the record checked field by field, latest + thinned history, the fleet's judgement,
and a real agent's round reaching a real hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.hub.devicehealth import (
    HISTORY_EVERY,
    SPEC,
    DeviceHealth,
    Thresholds,
    clean_record,
    fleet,
    history,
    judge,
    latest,
    record_health,
)
from sync.hub.store import HubStore
from tests.helpers.faultproxy import ROOT, HubProcess, make_pki

GOOD = {"software_version": "1.4.0", "started_at": 1000.0, "camera": {"state": "ok", "fps": 14.5},
        "gate_output": {"state": "closed"}, "audio": {"state": "ok"}, "errors_since_start": 3,
        "pending_uploads": 12, "visit_log_bytes": 4096, "storage_alarm": False,
        "trust_list": {"version": 7, "age": 60.0, "error": None},
        "status_lists": {"HC": {"version": 3, "age": 30, "error": None}},
        "clock_trusted": True, "clock_offset": -0.2, "agent_uptime": 5.0, "site": "Metro L1 East"}


def test_a_well_formed_record_is_kept_whole():
    rec = clean_record(GOOD)
    assert "dropped" not in rec
    assert rec["camera"] == {"state": "ok", "fps": 14.5}
    assert rec["status_lists"] == {"HC": {"version": 3, "age": 30}}
    assert rec["site"] == "Metro L1 East"


def test_bad_fields_are_dropped_and_named_the_rest_kept():
    rec = clean_record({**GOOD, "pending_uploads": "many", "camera": [1], "storage_alarm": 1,
                        "software_version": "x" * 5000, "unknown": {"a": 1}})
    assert sorted(rec["dropped"]) == ["camera", "pending_uploads", "storage_alarm"]
    assert "pending_uploads" not in rec and "unknown" not in rec
    assert len(rec["software_version"]) == 200
    assert rec["trust_list"]["version"] == 7
    assert clean_record([1, 2]) == {"dropped": ["(record is not an object)"]}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
                           max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(SPEC)) | st.text(max_size=8), json_values, max_size=10))
def test_any_json_gives_a_record_of_known_fields_that_serialises(raw):
    rec = clean_record(raw)
    assert set(rec) <= set(SPEC) | {"dropped"}
    json.dumps(rec, allow_nan=True)


def test_latest_history_and_errors_since_last(tmp_path):
    store = HubStore(tmp_path / "hub.sqlite")
    t = 1_000_000.0
    record_health(store, "gate-1", GOOD, now=t)
    record_health(store, "gate-1", {**GOOD, "errors_since_start": 5}, now=t + 30)
    h = latest(store, "gate-1")
    assert h is not None and h.received_ms == int((t + 30) * 1000)
    assert h.record["errors_since_last"] == 2
    # A restart (new started_at) starts counting again.
    record_health(store, "gate-1", {**GOOD, "started_at": 2000.0, "errors_since_start": 1}, now=t + 60)
    assert latest(store, "gate-1").record["errors_since_last"] == 1
    # History keeps one record per HISTORY_EVERY seconds.
    assert [x.received_ms for x in history(store, "gate-1")] == [int(t * 1000)]
    record_health(store, "gate-1", GOOD, now=t + HISTORY_EVERY)
    assert len(history(store, "gate-1")) == 2
    record_health(store, "gate-2", [], now=t)
    assert [x.device_id for x in fleet(store)] == ["gate-1", "gate-2"]
    store.close()


def test_judgement_names_each_problem():
    now = 10_000.0
    ok = DeviceHealth("g", int(now * 1000), clean_record(GOOD))
    assert judge(ok, now).state == "ok" and judge(ok, now).problems == ()
    assert judge(ok, now + 121).state == "offline"
    bad = DeviceHealth("g", int(now * 1000), {**clean_record(GOOD), "camera": {"state": "disconnected"},
                                              "storage_alarm": True, "pending_uploads": 5000,
                                              "clock_offset": 95.0, "errors_since_last": 4,
                                              "trust_list": {"version": 7, "age": 3 * 86400.0}})
    j = judge(bad, now, Thresholds(backlog=1000))
    assert j.state == "attention"
    assert j.problems == ("camera disconnected", "storage alarm", "backlog 5000", "trust list stale",
                          "clock off by +95 s", "4 errors")
    quiet = DeviceHealth("g", int(now * 1000), {**clean_record(GOOD), "appliance_age": 900.0,
                                                "audio": {"state": "silent", "problem": "no aplay"}})
    assert judge(quiet, now).problems == ("kiosk/gate not reporting", "no sound output")


def test_a_real_agent_round_stores_its_health_on_the_real_hub(tmp_path):
    pki = make_pki(tmp_path / "pki", "gate-h1")
    data = tmp_path / "device"
    data.mkdir()
    (data / "appliance-health.json").write_text(json.dumps(
        {"software_version": "9.9", "camera": {"state": "ok", "fps": 12.0}, "errors_since_start": 0}))
    db = tmp_path / "hub.sqlite"
    with HubProcess(db, pki) as hub:
        config = tmp_path / "checkpoint.toml"
        config.write_text(f"""
[device]
id = "gate-h1"
checkpoint_id = "east-1"
checkpoint_name = "Metro L1 East"
data_dir = "{data}"

{pki.hub_toml(hub.url)}""")
        out = subprocess.run([sys.executable, "-m", "scanner.cli", "sync", "--once", "--config", str(config)],
                             cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert "sync ok" in out.stdout, out.stderr
    store = HubStore(db)
    h = latest(store, "gate-h1")
    assert h is not None
    assert h.record["software_version"] == "9.9" and h.record["camera"] == {"state": "ok", "fps": 12.0}
    assert h.record["site"] == "Metro L1 East" and h.record["checkpoint_id"] == "east-1"
    assert h.record["pending_uploads"] == 0 and "dropped" not in h.record
    store.close()


def test_the_fleet_is_the_registry_with_health_records(hub_db):
    from sync.hub.registry import Registry

    store = HubStore(hub_db)
    reg = Registry(store)
    for name in ("gate-a", "gate-b", "gate-c"):
        reg.add(name, "01")
    reg.place("gate-a", site="Metro L2 North", checkpoints=None)
    reg.revoke("gate-c", reason="stolen")
    record_health(store, "gate-a", {**GOOD, "site": "reported site"}, now=1000.0)
    record_health(store, "gate-c", GOOD, now=1000.0)
    record_health(store, "gate-x", GOOD, now=1000.0)  # a record from before the registry
    devices = {h.device_id: h for h in fleet(store)}
    assert sorted(devices) == ["gate-a", "gate-b", "gate-x"]
    assert devices["gate-a"].site_name == "Metro L2 North" and devices["gate-x"].site_name == "Metro L1 East"
    assert devices["gate-b"].received_ms == 0 and devices["gate-b"].record == {}
    assert judge(devices["gate-b"], 1000.0).state == "offline"
    store.close()


def test_a_damaged_storage_is_a_problem_in_its_own_words():
    now = 10_000.0
    damage = "visit log damaged (visits.sqlite.bad-1): 878 visits recovered, 22 could not be read; 639 still to upload"
    rec = clean_record({**GOOD, "visit_log_damage": damage,
                        "status_store_problem": "status store /data/status.sqlite was damaged"})
    assert rec["visit_log_damage"] == damage[:200] and "dropped" not in rec
    j = judge(DeviceHealth("g", int(now * 1000), rec), now)
    assert j.state == "attention"
    assert j.problems == (damage, "status store damaged: started empty")
