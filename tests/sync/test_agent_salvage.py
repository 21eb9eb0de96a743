"""A device whose visit log was damaged for real: the real agent uploads the visits salvaged from it to a
real hub on 127.0.0.1, each once, under the damaged log's id, and the hub notes the log was recovered."""

from __future__ import annotations

import random
import sqlite3

from scanner.config import Settings
from scanner.storage.stores import open_stores
from scanner.storage.syncstate import read_status
from scanner.storage.visitlog import VisitLog
from sync.agent import AgentConfig, SyncAgent
from sync.hub.devicehealth import judge, latest
from sync.hub.store import HubStore
from tests.helpers.damage import overwrite_pages, written_log, zero_header
from tests.helpers.faultproxy import HubProcess, make_pki
from tests.helpers.visits import fill


def _agent(url, pki, data_dir, log) -> SyncAgent:
    cfg = AgentConfig(url=url, client_cert=str(pki.device_cert), client_key=str(pki.device_key),
                      ca_cert=str(pki.ca), data_dir=data_dir, device_id=pki.device_id, batch_size=200)
    return SyncAgent(cfg, log, None, None, rng=random.Random(1))


def test_salvaged_visits_reach_the_hub_once_each(tmp_path):
    pki = make_pki(tmp_path / "pki")
    data = tmp_path / "device"
    data.mkdir()
    # The visits the log held are known from a copy written alongside (the test's record of the truth).
    log_id, truth = written_log(data / "visits.sqlite", 900, device_id=pki.device_id)
    with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
        with VisitLog(data / "visits.sqlite") as log:
            # The hub stores every visit; the device then loses its record of the answers past seq 250 (as
            # when the card fails mid-write), so the salvage finds those unacknowledged and sends them again.
            agent = _agent(hub.url, pki, data, log)
            assert agent.run_once().uploaded == 900
            agent.close()
        conn = sqlite3.connect(data / "visits.sqlite")
        conn.execute("UPDATE visits SET synced_at_ms = NULL WHERE seq > 250")
        conn.commit()
        conn.close()
        assert len(_hub_rows(tmp_path / "hub.sqlite", pki.device_id)) == 900

        overwrite_pages(data / "visits.sqlite", (20, 60))
        zero_header(data / "visits.sqlite")
        stores = open_stores(Settings(), require_trust=False, data_dir=data)
        try:
            new = stores.visit_log
            assert new is not None and new.log_id != log_id
            (salvage,) = new.recovered.salvages()
            assert salvage.log_id == log_id and salvage.kept > 500 and salvage.unreadable > 0
            fill(new, 5, pki.device_id)  # the device goes on recording in its new log
            agent = _agent(hub.url, pki, data, new)
            report = agent.run_once()
            agent.close()
            # Every recovered visit the hub already held came back as a duplicate, nothing stored twice.
            assert report.duplicates == salvage.kept and report.uploaded == 5
            assert new.pending_count() == 0
            state = read_status(data)
            # `checkpoint sync --status` and the health record say what happened until it is acknowledged.
            assert state is not None and state.pending == 0
            assert f"{salvage.recovered} visits recovered, {salvage.unreadable} could not be read; all recovered " \
                   "visits uploaded" in state.storage["damage"]
        finally:
            stores.close()

    rows = _hub_rows(tmp_path / "hub.sqlite", pki.device_id)
    ids = [r["visit_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 905
    by_id = {r["visit_id"]: r for r in rows}
    assert all(by_id[t["visit_id"]]["chain"] == t["chain"] and by_id[t["visit_id"]]["seq"] == t["seq"]
               for t in truth)
    store = HubStore(tmp_path / "hub.sqlite")
    try:
        logs = {lg["log_id"]: lg for lg in store.logs(pki.device_id)}
    finally:
        store.close()
    assert logs[log_id]["recovered_ms"] is not None and logs[log_id]["gaps"] == []
    health = latest(HubStore(tmp_path / "hub.sqlite"), pki.device_id)
    assert health is not None and "visit log damaged (visits.sqlite.bad-1)" in health.record["visit_log_damage"]
    assert any(p.startswith("visit log damaged") for p in judge(health, health.received_ms / 1000).problems)
    assert [lg["recovered_ms"] for lid, lg in logs.items() if lid != log_id] == [None]


def test_salvaged_visits_the_hub_never_had_are_stored_from_the_recovered_log(tmp_path):
    pki = make_pki(tmp_path / "pki")
    data = tmp_path / "device"
    data.mkdir()
    log_id, truth = written_log(data / "visits.sqlite", 700, synced=100, device_id=pki.device_id)
    overwrite_pages(data / "visits.sqlite", (15, 40))
    zero_header(data / "visits.sqlite")
    stores = open_stores(Settings(), require_trust=False, data_dir=data)
    with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
        try:
            new = stores.visit_log
            assert new is not None
            (salvage,) = new.recovered.salvages()
            agent = _agent(hub.url, pki, data, new)
            report = agent.run_once()
            agent.close()
            assert report.uploaded == salvage.kept and report.duplicates == 0 and report.chain_breaks == 0
        finally:
            stores.close()
    rows = _hub_rows(tmp_path / "hub.sqlite", pki.device_id)
    original = {t["visit_id"]: t for t in truth}
    assert len(rows) == salvage.kept and all(r["log_id"] == log_id for r in rows)
    # Stored as written: every chained field is the original's.
    assert all(all(r[k] == original[r["visit_id"]][k] for k in original[r["visit_id"]]) for r in rows)


def _hub_rows(db, device_id: str) -> list[dict]:
    store = HubStore(db)
    try:
        return list(store.visits(device_id))
    finally:
        store.close()


def test_an_agent_whose_log_was_set_aside_ends_its_rounds_to_be_restarted(tmp_path, caplog):
    import threading

    pki = make_pki(tmp_path / "pki")
    log = VisitLog(tmp_path / "visits.sqlite")
    try:
        agent = _agent("https://127.0.0.1:9", pki, tmp_path, log)
        # The kiosk found the log damaged at its start: set aside, a new log in its place.
        (tmp_path / "visits.sqlite").rename(tmp_path / "visits.sqlite.bad-1")
        VisitLog(tmp_path / "visits.sqlite").close()
        stop = threading.Event()
        agent.run(stop, max_rounds=3)  # returns at once: `checkpoint sync` then exits to be restarted
        assert agent.state.last_attempt is None and not stop.is_set()
        assert "was replaced (set aside as damaged)" in caplog.text
        agent.close()
    finally:
        log.close()


def test_a_salvaged_batch_the_hub_finds_too_large_is_sent_in_smaller_ones(tmp_path):
    """Salvaged rows of crafted codes with long claimed issuers can make a batch inflate past the hub's
    limit (413 at every retry); the salvaged batches are halved like the outbox's until the hub takes them,
    and every salvaged visit arrives under the damaged log's id."""
    import time

    from scanner.storage.chain import new_visit_id
    from scanner.storage.salvage import Salvage
    from scanner.storage.visitlog import VisitRecord

    pki = make_pki(tmp_path / "pki")
    data = tmp_path / "device"
    data.mkdir()
    now = time.time()
    # 8 rows of 2.5 MB inflate past the hub's 16 MiB limit; 4 of them do not.
    with VisitLog(tmp_path / "damaged.sqlite") as old:
        for i in range(16):
            old.append(VisitRecord(visit_id=new_visit_id(now + i / 1000), ts_ms=int(now * 1000) + i,
                                   device_id=pki.device_id, checkpoint_id="gate-1", profile="transport",
                                   clock_trusted=True, verdict="unknown_key", admit=False, tone="stop",
                                   issuer="CN-" + "Z" * 2_500_000, latency_ms=3))
        damaged_id, rows = old.log_id, list(old.rows())
    with VisitLog(data / "visits.sqlite") as new:
        assert new.recovered.add(Salvage(source="visits.sqlite.bad-1", log_id=damaged_id, rows=rows,
                                         recovered=len(rows))) == 16
        fill(new, 3, pki.device_id)
        with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
            cfg = AgentConfig(url=hub.url, client_cert=str(pki.device_cert), client_key=str(pki.device_key),
                              ca_cert=str(pki.ca), data_dir=data, device_id=pki.device_id, batch_size=8)
            agent = SyncAgent(cfg, new, None, None, rng=random.Random(1))
            try:
                report = agent.run_once()
            finally:
                agent.close()
        assert report.uploaded == 19 and new.pending_count() == 0 and new.recovered.pending_count() == 0
    stored = _hub_rows(tmp_path / "hub.sqlite", pki.device_id)
    assert sorted(r["visit_id"] for r in stored if r["log_id"] == damaged_id) == sorted(r["visit_id"] for r in rows)


def test_salvaged_visits_of_another_device_are_kept_and_said_without_holding_up_the_rest(tmp_path):
    """A damaged log copied from another device (a card moved between devices) holds that device's visits:
    the hub refuses any batch holding them from this one (403), at every round. They are kept in the log and
    not sent, said in the status and the health record, and the device's own visits, the salvaged ones
    included, go on reaching the hub at every round."""
    from scanner.storage.salvage import Salvage
    from sync.hub.devicehealth import latest

    pki = make_pki(tmp_path / "pki")
    data = tmp_path / "device"
    data.mkdir()
    salvaged = {}
    for device in ("dev-2", pki.device_id):
        with VisitLog(tmp_path / f"{device}.sqlite") as old:
            fill(old, 4, device)
            salvaged[device] = (old.log_id, list(old.rows()))
    with VisitLog(data / "visits.sqlite") as new:
        for n, (log_id, rows) in enumerate(salvaged.values(), 1):
            new.recovered.add(Salvage(source=f"visits.sqlite.bad-{n}", log_id=log_id, rows=rows, recovered=4))
        fill(new, 3, pki.device_id)
        with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
            agent = _agent(hub.url, pki, data, new)
            try:
                report = agent.run_once()  # no step fails: the round's cadence is kept
                fill(new, 2, pki.device_id)
                again = agent.run_once()
            finally:
                agent.close()
        assert (report.uploaded, again.uploaded) == (3 + 4, 2)
        assert new.recovered.pending_count() == 4  # the other device's, kept
        state = read_status(data)
        assert state is not None and state.online
        told = "4 salvaged visits are of device dev-2: kept, not uploaded"
        assert told in state.storage["damage"]
    stored = _hub_rows(tmp_path / "hub.sqlite", pki.device_id)
    assert len(stored) == 3 + 4 + 2 and {r["device_id"] for r in stored} == {pki.device_id}
    health = latest(HubStore(tmp_path / "hub.sqlite"), pki.device_id)
    assert health is not None and told in health.record["visit_log_damage"]
