"""Hourly traffic counts kept at ingest: once per stored visit (a replayed batch adds nothing), on both back ends."""

from __future__ import annotations

from sync.hub.operator.queries import traffic
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
    sites = traffic(store, {"gate-1": "Metro L1 East"}, T0, T0 + 3 * HOUR_MS)
    assert list(sites) == ["Metro L1 East"]
    hours = [(h.hour_ms - T0, h.admitted, h.refused, h.manual) for h in sites["Metro L1 East"]]
    assert hours == [(0, 2, 1, 0), (HOUR_MS, 2, 1, 1), (2 * HOUR_MS, 0, 0, 0)]
    # Without a reported site the checkpoint id names the bars.
    assert list(traffic(store, {}, T0, T0 + HOUR_MS)) == ["east-1"]
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
