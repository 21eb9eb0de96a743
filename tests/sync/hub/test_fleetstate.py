"""Device states judged in SQL agree with `judge`, on both back ends, and the list is ordered and filtered."""

from __future__ import annotations

import random

from sync.hub.devicehealth import DEFAULT_THRESHOLDS, Thresholds, fleet, judge, record_health
from sync.hub.fleetstate import device_list, state_counts
from sync.hub.store import HubStore

GOOD = {"software_version": "1.4.0", "started_at": 1000.0, "camera": {"state": "ok", "fps": 14.5},
        "gate_output": {"state": "closed"}, "audio": {"state": "ok"}, "errors_since_start": 0,
        "pending_uploads": 12, "storage_alarm": False, "trust_list": {"version": 7, "age": 60.0},
        "status_lists": {"HC": {"version": 3, "age": 30.0}}, "clock_trusted": True, "clock_offset": -0.2}
# Each a change that makes a device need attention (or not, right at a threshold).
CHANGES = [
    {}, {"camera": {"state": "error"}}, {"gate_output": {"state": "fault"}}, {"audio": {"state": "silent"}},
    {"storage_alarm": True}, {"pending_uploads": 1000}, {"pending_uploads": 1001},
    {"trust_list": {"version": 7, "age": 172800.0}}, {"trust_list": {"version": 7, "age": 172800.001}},
    {"trust_list": {"version": 0, "age": 1.0}}, {"trust_list": {"version": 7, "error": "bad signature"}},
    {"status_lists": {"HC": {"version": 3, "age": 86400.5}, "XY": {"version": 1, "age": 1.0}}},
    {"status_lists": {"HC": {"version": 3, "error": "unreachable"}}}, {"clock_trusted": False},
    {"clock_offset": 30.0}, {"clock_offset": -30.25}, {"appliance_age": 301.0}, {"appliance_age": 300},
    {"state": "unreadable", "error": "gone"}, {"errors_since_start": 2, "started_at": 5.0}, {"camera": "junk"},
]


def test_sql_states_agree_with_judge(hub_db):
    store = HubStore(hub_db)
    now = 1_000_000.0
    rng = random.Random(7)
    for i in range(120):
        change = {k: v for c in rng.sample(CHANGES, rng.choice([1, 1, 2])) for k, v in c.items()}
        # Last heard from between just now and well past the offline threshold (120 s).
        record_health(store, f"gate-{i:03d}", {**GOOD, **change}, now=now - rng.choice([0, 60, 119.9, 120.5, 900]))
    store.write([("INSERT INTO devices (device_id, state, enrolled_ms) VALUES (?, ?, ?)", ("gate-new", "enrolled", 1))])
    for t in (DEFAULT_THRESHOLDS, Thresholds(offline_after=60, backlog=5, trust_list_age=10, status_list_age=10,
                                               clock_offset=0.1, appliance_age=1)):
        expected = {h.device_id: judge(h, now, t).state for h in fleet(store)}
        listed = device_list(store, now, t, limit=1000)
        assert {h.device_id: state for h, state in listed} == expected
        assert state_counts(store, now, t) == {s: list(expected.values()).count(s) for s in ("offline", "attention",
                                                                                              "ok")}
        order = [({"offline": 0, "attention": 1, "ok": 2}[s], h.device_id) for h, s in listed]
        assert order == sorted(order)
        needing = device_list(store, now, t, attention=True, limit=1000)
        assert {h.device_id for h, _ in needing} == {d for d, s in expected.items() if s != "ok"}
        assert len(device_list(store, now, t, limit=7)) == 7
    store.close()


def test_records_stored_before_the_judged_columns_are_judged_after_the_migration(hub_db):
    import json

    from sync.hub.db import migrate, open_database
    from sync.hub.devicehealth import clean_record
    from sync.hub.schema import MIGRATIONS

    db = open_database(hub_db)
    migrate(db, [s for s in MIGRATIONS if s.version <= 5])
    with db.transaction() as tx:
        for device, change in (("gate-ok", {}), ("gate-cam", {"camera": {"state": "error"}}),
                               ("gate-old-list", {"trust_list": {"version": 7, "age": 999_999.0}})):
            tx.execute("INSERT INTO device_health (device_id, received_ms, record) VALUES (?, ?, ?)",
                       (device, 1_000_000, json.dumps(clean_record({**GOOD, **change}))))
    db.close()
    store = HubStore(hub_db)
    states = {h.device_id: s for h, s in device_list(store, 1000.0, DEFAULT_THRESHOLDS)}
    assert states == {"gate-ok": "ok", "gate-cam": "attention", "gate-old-list": "attention"}
    store.close()


def test_device_pages_cover_the_fleet_in_order_and_filter_by_state_and_name(hub_db):
    from sync.hub.fleetstate import device_page

    store = HubStore(hub_db)
    now = 1_000_000.0
    for i in range(23):
        record_health(store, f"gate-{i:02d}", {**GOOD, "site": f"Metro L{i % 3} 50%_off", "checkpoint_id": f"cp{i}",
                                               **({"camera": {"state": "error"}} if i % 4 == 0 else {})},
                      now=now - (900 if i % 5 == 0 else 0))
    store.write([("INSERT INTO devices (device_id, state, site, enrolled_ms) VALUES (?, ?, ?, ?)",
                  ("gate-placed", "enrolled", "Airport T2", 1))])
    whole = device_list(store, now, DEFAULT_THRESHOLDS, limit=1000)
    pages = [device_page(store, now, DEFAULT_THRESHOLDS, page=n, per_page=5) for n in range(1, 7)]
    assert [p.total for p in pages] == [24] * 6 and pages[0].pages == 5
    assert [row for p in pages for row in p.rows] == whole and pages[5].rows == []

    offline = device_page(store, now, DEFAULT_THRESHOLDS, state="offline", per_page=100)
    assert {h.device_id for h, _ in offline.rows} == {"gate-placed", *(f"gate-{i:02d}" for i in range(0, 23, 5))}
    assert offline.total == len(offline.rows) and {s for _, s in offline.rows} == {"offline"}
    needing = device_page(store, now, DEFAULT_THRESHOLDS, attention=True, state="attention", per_page=100)
    assert {h.device_id for h, _ in needing.rows} == {f"gate-{i:02d}" for i in range(0, 23, 4) if i % 5}

    def named(text: str) -> set[str]:
        return {h.device_id for h, _ in device_page(store, now, DEFAULT_THRESHOLDS, match=text, per_page=100).rows}

    assert named("GATE-1") == {f"gate-{i}" for i in range(10, 20)}
    assert named("metro l2") == {f"gate-{i:02d}" for i in range(2, 23, 3)}
    assert named("airport") == {"gate-placed"}  # the registry's site
    assert named("cp7") == {"gate-07"}  # the checkpoint the device reports
    assert named("50%_") == {f"gate-{i:02d}" for i in range(23)}  # % and _ are taken literally
    assert named("5_%") == set() and named("x%") == set()
    store.close()
