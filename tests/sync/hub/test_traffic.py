"""Hourly traffic counts kept at ingest: once per stored visit (a replayed batch adds nothing), on both back ends."""

from __future__ import annotations

from sync.hub.devicehealth import record_health
from sync.hub.operator.queries import traffic
from sync.hub.registry import Registry
from sync.hub.store import HubStore
from sync.hub.traffic import HOUR_MS, tally
from tests.helpers.hubrows import chain_rows, new_log_id

T0 = 1_780_000_000_000 // HOUR_MS * HOUR_MS


def test_counts_follow_stored_visits_exactly_once(hub_db):
    store = HubStore(hub_db)
    log_id = new_log_id()
    rows = chain_rows("gate-1", 6, ts_ms=T0, checkpoint_id="east-1")
    for i, r in enumerate(rows):
        r["ts_ms"] = T0 + (i // 3) * HOUR_MS + i  # three in each of two hours
        r["admit"] = i % 3 != 0
        r["tone"] = "check" if i == 4 else ("pass" if r["admit"] else "stop")
    from scanner.storage.chain import GENESIS, chain_hash

    prev = GENESIS
    for r in rows:  # re-chain after the edits
        r["prev_chain"] = prev
        r["chain"] = prev = chain_hash(prev, r)
    now = (T0 + HOUR_MS) / 1000
    assert store.upload("gate-1", rows[:4], log_id=log_id, now=now).stored == 4
    assert store.upload("gate-1", rows, log_id=log_id, now=now).stored == 2  # 4 duplicates, 2 new
    # Without a reported site the checkpoint id names the bars.
    assert list(traffic(store, T0, T0 + HOUR_MS)) == ["east-1"]
    record_health(store, "gate-1", {"site": "Metro L1 East"})
    sites = traffic(store, T0, T0 + 3 * HOUR_MS)
    assert list(sites) == ["Metro L1 East"]
    hours = [(h.hour_ms - T0, h.admitted, h.refused, h.manual) for h in sites["Metro L1 East"]]
    assert hours == [(0, 2, 1, 0), (HOUR_MS, 2, 1, 1), (2 * HOUR_MS, 0, 0, 0)]
    store.close()


def test_each_device_counts_under_the_site_the_device_list_shows(hub_db):
    """The registry's site, else the one the device reports, else the checkpoint it reports, else the visits'
    own checkpoint; summed per site and hour by the database, whatever the number of devices."""
    store = HubStore(hub_db)
    reg = Registry(store, ttl=0)
    for device_id in ("placed", "reporting", "gate-only", "silent", "revoked"):
        reg.add(device_id, "01")
    reg.place("placed", site="Metro L1", checkpoints=None)
    reg.revoke("revoked")
    record_health(store, "placed", {"site": "ignored: the registry names it"})
    record_health(store, "reporting", {"site": "Metro L1", "checkpoint_id": "north"})
    record_health(store, "gate-only", {"checkpoint_id": "Mall B"})
    record_health(store, "unregistered", {"site": "Mall B"})
    record_health(store, "revoked", {"site": "Metro L1"})
    now = (T0 + HOUR_MS) / 1000
    for n, device_id in enumerate(("placed", "reporting", "gate-only", "silent", "revoked", "unregistered")):
        rows = chain_rows(device_id, n + 1, ts_ms=T0 + 60_000, checkpoint_id=f"cp-{device_id}")
        assert store.upload(device_id, rows, log_id=new_log_id(), now=now).stored == n + 1
    sites = traffic(store, T0, T0 + HOUR_MS)
    totals = {site: [h.admitted for h in hours] for site, hours in sites.items()}
    assert totals == {"Metro L1": [1 + 2], "Mall B": [3 + 6], "cp-silent": [4], "cp-revoked": [5]}
    store.close()


class Recorder:
    def __init__(self) -> None:
        self.rows: list[list[object]] = []

    def executemany(self, sql: str, rows: list[list[object]]) -> None:
        self.rows += rows


def test_a_clerks_decision_on_an_earlier_visit_is_not_a_new_visit():
    rec = Recorder()
    tally(rec, "gate-1", [{"checkpoint_id": "c", "ts_ms": T0, "admit": True, "tone": "pass"},
                          {"checkpoint_id": "c", "ts_ms": T0 + 5, "admit": True, "tone": "pass",
                           "decided_by": "clerk"}])
    assert rec.rows == [["gate-1", "c", T0 // HOUR_MS, 1, 0, 0]]
