"""The hub store on both back ends (a SQLite file, a real PostgreSQL database): idempotency per
(device, log id, seq), conflicts, refusals, chain links and gaps, keyset paging, retention, migrations."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from scanner.storage.chain import chain_hash
from sync.errors import HubStoreError
from sync.hub.db import open_database, schema_version
from sync.hub.ingest import IngestRules
from sync.hub.schema import MIGRATIONS
from sync.hub.store import HubStore
from sync.hub.traffic import HOUR_MS
from tests.helpers.hubrows import chain_rows, new_log_id


def test_fresh_database_is_at_the_last_migration(store):
    with store.db.read() as tx:
        assert schema_version(tx) == MIGRATIONS[-1].version


def test_a_devices_time_range_has_one_index_to_update_per_visit_on_postgresql(store):
    # On PostgreSQL each stored visit updates one index: a device's time range is its day partitions'
    # key range. SQLite has no partitions, so there the (device, time) index serves that range.
    store.upload("dev-1", chain_rows("dev-1", 3), log_id=new_log_id())
    with store.db.read() as tx:
        if store.dialect == "postgresql":
            names = {r[0] for r in tx.execute("SELECT indexname FROM pg_indexes WHERE tablename LIKE ?",
                                              ("visits%",))}
            assert names and all(n.endswith("_pkey") for n in names), names
        else:
            names = {r[0] for r in tx.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                              "AND tbl_name = 'visits' AND sql IS NOT NULL")}
            assert "visits_device_ts" in names, names
    t = int(time.time() * 1000)
    assert store.count("dev-1", t - 3_600_000, t + 1000) == 3 and store.count("dev-2", t - 3_600_000, t) == 0


def test_same_seq_in_another_log_or_device_is_not_a_duplicate(store):
    # A wiped device starts a new log at seq 1; another device reuses nothing of the first.
    a, b = new_log_id(), new_log_id()
    first = chain_rows("dev-1", 5)
    res = store.upload("dev-1", first, log_id=a)
    assert (res.stored, res.duplicates, res.last_seq, res.gaps) == (5, 0, 5, [])
    res = store.upload("dev-1", chain_rows("dev-1", 5), log_id=b)
    assert (res.stored, res.duplicates) == (5, 0)
    res = store.upload("dev-2", [{**r, "device_id": "dev-2"} for r in chain_rows("dev-2", 3)], log_id=a)
    assert res.stored == 3
    # The same visit id from another device is that device's row, not a duplicate of dev-1's.
    stolen = chain_rows("dev-3", 1, visit_id=first[0]["visit_id"])
    assert store.upload("dev-3", stolen, log_id=a).stored == 1
    assert store.count() == 14 and store.count("dev-1") == 10


def test_replay_is_a_duplicate_and_altered_content_a_conflict(store):
    log = new_log_id()
    rows = chain_rows("dev-1", 4)
    store.upload("dev-1", rows, log_id=log)
    res = store.upload("dev-1", rows, log_id=log)
    assert (res.stored, res.duplicates, len(res.acked), res.conflicts) == (0, 4, 4, [])
    other = chain_rows("dev-1", 4, verdict="expired", admit=False)
    res = store.upload("dev-1", other, log_id=log)
    assert res.stored == 0 and [c["seq"] for c in res.conflicts] == [1, 2, 3, 4]
    assert [c["seq"] for c in store.conflicts("dev-1")] == [1, 2, 3, 4]
    assert all(v["verdict"] == "ok" for v in store.visits("dev-1"))  # the held rows stay


def test_refused_rows_are_kept_and_reported_never_stored_as_visits(store):
    log = new_log_id()
    now = time.time()
    rows = chain_rows("dev-1", 1)
    rows += chain_rows("dev-1", 1, start_seq=2, prev=rows[0]["chain"], ts_ms=int((now + 86400 * 365) * 1000))
    rows += chain_rows("dev-1", 1, start_seq=3, prev=rows[-1]["chain"], verdict="totally_fine")
    rows += chain_rows("dev-1", 1, start_seq=4, prev=rows[-1]["chain"], checkpoint_id="another-mall")
    rows += chain_rows("dev-1", 1, start_seq=5, prev=rows[-1]["chain"], extra={"phone": "13800000000"})
    rows += chain_rows("dev-1", 1, start_seq=6, prev=rows[-1]["chain"])
    res = store.upload("dev-1", rows, log_id=log, now=now,
                       rules=IngestRules(checkpoints=("gate-1",)))
    reasons = {r["seq"]: r["reason"] for r in res.refused}
    assert set(reasons) == {2, 3, 4, 5}
    assert "ahead of the hub's clock" in reasons[2] and "does not exist" in reasons[3]
    assert "not registered" in reasons[4] and "extra.phone" in reasons[5]
    assert res.stored == 2 and len(res.acked) == 6 and res.chain_breaks == [] and res.gaps == []
    assert [v["seq"] for v in store.visits("dev-1")] == [1, 6]
    kept = store.refusals("dev-1")
    assert [r["seq"] for r in kept] == [2, 3, 4, 5]
    with store.db.read() as tx:
        smuggled = tx.execute("SELECT row_json FROM visit_refusals WHERE seq = 5")[0][0]
    assert "13800000000" not in smuggled and "phone" in smuggled


def test_links_to_stored_rows_forks_and_gaps(store):
    log = new_log_id()
    rows = chain_rows("dev-1", 10)
    store.upload("dev-1", rows[:3], log_id=log)
    res = store.upload("dev-1", rows[5:8], log_id=log)
    assert res.gaps == [(4, 5)] and res.chain_breaks == [] and res.last_seq == 8
    # A row 4 from another history: it links to nothing the hub holds, and row 5's successor... (a fork)
    forged = chain_rows("dev-1", 1, start_seq=4, prev="ab" * 32)
    res = store.upload("dev-1", forged, log_id=log)
    assert [b["seq"] for b in res.chain_breaks] == [4] and "fork" in res.chain_breaks[0]["problem"]
    res = store.upload("dev-1", rows[4:5] + rows[8:], log_id=log)
    # Row 5 links to nothing held at 4 (the forged row): flagged; row 6 then links to row 5.
    assert [b["seq"] for b in res.chain_breaks] == [5]
    assert res.gaps == [] and res.last_seq == 10 and res.last_chain == rows[-1]["chain"]
    assert [lg["gaps"] for lg in store.logs("dev-1")] == [[]]
    edited = {**rows[0], "verdict": "expired"}
    other_log = new_log_id()
    res = store.upload("dev-1", [edited], log_id=other_log)
    assert "hash" in res.chain_breaks[0]["problem"]


def test_a_replayed_batch_stores_and_counts_what_a_fresh_one_does(store):
    # A fresh batch and the same rows replayed after one of them (a duplicate acknowledged, not stored
    # again) store the same rows, and count each once in the hourly counts and site admissions.
    now = time.time()
    rows = chain_rows("dev-1", 6, ts_ms=int(now * 1000) - 5000)
    rows[1] = {**rows[1], "admit": False, "tone": "check"}
    rows[2] = {**rows[2], "extra": {"drug_categories": ["antiviral"]}, "decided_by": "clerk"}
    rows[3] = {**rows[3], "code_id": None}
    prev = "00" * 32
    for r in rows:  # linked again after the edits
        r["prev_chain"] = prev
        r["chain"] = prev = chain_hash(prev, r)
    rules = IngestRules(site="mall-1")
    usual, replayed = new_log_id(), new_log_id()

    def counts() -> tuple[list[tuple[object, ...]], int]:
        with store.db.read() as tx:
            return (tx.execute("SELECT checkpoint_id, admitted, refused, manual FROM traffic_hourly"),
                    int(tx.execute("SELECT COUNT(*) FROM site_admissions")[0][0]))

    fast = store.upload("dev-1", rows, log_id=usual, now=now, rules=rules)
    assert (fast.stored, fast.duplicates, fast.chain_breaks, fast.gaps, fast.last_seq) == (6, 0, [], [], 6)
    assert fast.acked == [r["visit_id"] for r in rows]
    # Six rows: a clerk's (not a new visit), one refused at the gate (a manual check); five admissions.
    assert counts() == ([("gate-1", 4, 1, 1)], 4)
    store.upload("dev-1", rows[:1], log_id=replayed, now=now, rules=rules)
    slow = store.upload("dev-1", rows, log_id=replayed, now=now, rules=rules)
    assert (slow.stored, slow.duplicates, slow.chain_breaks, slow.gaps) == (5, 1, [], [])
    assert counts() == ([("gate-1", 8, 2, 2)], 8)

    def kept(log_id: str) -> list[dict[str, object]]:
        return [{k: v for k, v in r.items() if k != "log_id"} for r in store.visits("dev-1") if r["log_id"] == log_id]

    assert kept(usual) == kept(replayed)
    assert kept(usual)[2]["extra"] == {"drug_categories": ["antiviral"]} and kept(usual)[1]["admit"] is False


def test_signed_checkpoint_is_kept_as_the_highest(store):
    log = new_log_id()
    rows = chain_rows("dev-1", 6)
    store.upload("dev-1", rows[:3], log_id=log, signed=(3, rows[2]["chain"]))
    store.upload("dev-1", rows[3:], log_id=log, signed=(6, rows[5]["chain"]))
    store.upload("dev-1", rows[:3], log_id=log, signed=(3, rows[2]["chain"]))
    (head,) = store.logs("dev-1")
    assert (head["signed_seq"], head["signed_chain"], head["last_seq"]) == (6, rows[5]["chain"], 6)


def test_keyset_pages_and_counts(store):
    for d in ("dev-a", "dev-b", "dev-c"):
        store.upload(d, [{**r, "device_id": d} for r in chain_rows(d, 25)], log_id=new_log_id())
    page = store.page(limit=10)
    seen = [(r["device_id"], r["seq"]) for r in page.rows]
    while page.after is not None:
        page = store.page(after=page.after, limit=10)
        seen += [(r["device_id"], r["seq"]) for r in page.rows]
    assert seen == sorted(seen) and len(set(seen)) == 75
    assert store.count() == 75 and store.count("dev-b") == 25
    mid = store.page("dev-b", limit=25).rows[10]["ts_ms"]
    assert store.count("dev-b", since_ms=mid) == 15 and store.count("dev-b", until_ms=mid) == 10


def test_retention_removes_old_days(store):
    now = time.time()
    old = chain_rows("dev-1", 3, ts_ms=int((now - 40 * 86400) * 1000))
    new = chain_rows("dev-1", 3, start_seq=4, prev=old[-1]["chain"])
    store.upload("dev-1", old + new, log_id=new_log_id(), now=now)
    assert store.count() == 6
    with store.db.read() as tx:
        hours = sorted(h for (h,) in tx.execute("SELECT hour FROM traffic_hourly"))
    assert len(hours) == 2 and hours[0] < (now - 39 * 86400) * 1000 // HOUR_MS
    assert store.retain(30, now=now) >= 1
    assert [v["seq"] for v in store.visits()] == [4, 5, 6]
    with store.db.read() as tx:  # the fleet page's hourly counts go with the visits
        assert [h for (h,) in tx.execute("SELECT hour FROM traffic_hourly")] == hours[1:]
    # Rows older than the retention are refused on arrival, reported, not silently dropped.
    res = store.upload("dev-1", chain_rows("dev-9", 1, ts_ms=int((now - 40 * 86400) * 1000)),
                       log_id=new_log_id(), now=now, rules=IngestRules(max_age_days=30))
    assert res.stored == 0 and "days before" in res.refused[0]["reason"]



def test_a_day_dropped_by_another_process_takes_new_rows_again(hub_db):
    """`hub retain --days 7` on a hub serving with 28: the serving process still thinks the dropped day's
    partition exists; a device's backlog from that day must be stored, not answered 503 until the hour's
    retention pass makes the process forget."""
    serving, cli = HubStore(hub_db), HubStore(hub_db)
    try:
        now = time.time()
        log_id = new_log_id()
        rows = chain_rows("dev-1", 4, ts_ms=int((now - 10 * 86400) * 1000))
        assert serving.upload("dev-1", rows[:2], log_id=log_id, now=now).stored == 2
        assert cli.retain(7, now=now) >= 1
        res = serving.upload("dev-1", rows[2:], log_id=log_id, now=now)
        assert res.stored == 2 and res.refused == [], res
        assert [v["seq"] for v in serving.visits("dev-1")] == [3, 4]
    finally:
        serving.close()
        cli.close()

def test_concurrent_uploads_of_one_batch_store_it_once(hub_db):
    stores = [HubStore(hub_db) for _ in range(2)]
    log = new_log_id()
    rows = chain_rows("dev-1", 300)
    results = []

    def go(s):
        results.append(s.upload("dev-1", rows, log_id=log))

    threads = [threading.Thread(target=go, args=(s,)) for s in stores for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.stored for r in results) == [0, 0, 0, 300]
    assert stores[0].count() == 300
    for s in stores:
        s.close()


def test_sqlite_hub_database_of_the_first_schema_is_migrated_with_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    step1 = MIGRATIONS[0].sql
    assert isinstance(step1, str)
    conn.executescript(step1)
    row = chain_rows("dev-1", 1)[0]
    cols = [*row, "chain_ok", "chain_problem", "received_ms"]
    vals = [*({**row, "extra": "{}"}.values()), 1, None, 1]
    conn.execute(f"INSERT INTO visits ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", vals)
    conn.commit()
    conn.close()
    s = HubStore(path)
    (v,) = list(s.visits())
    assert (v["log_id"], v["visit_id"], v["chain"]) == ("", row["visit_id"], row["chain"])
    s.close()


def test_read_only_open_refuses_a_missing_file(tmp_path):
    with pytest.raises(HubStoreError, match=r"missing\.sqlite: no such file"):
        HubStore(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()


def test_gate_fields_are_stored_and_checked(store):
    log = new_log_id()
    rows = chain_rows("dev-1", 1, tone="check", admit=False)
    rows += chain_rows("dev-1", 1, start_seq=2, prev=rows[0]["chain"], decided_by="guard", gate="open",
                       ref_visit=rows[0]["visit_id"], outcome="green")
    rows += chain_rows("dev-1", 1, start_seq=3, prev=rows[1]["chain"], decided_by="the-cat")
    res = store.upload("dev-1", rows, log_id=log)
    assert res.stored == 2 and res.chain_breaks == [] and "decided_by" in res.refused[0]["reason"]
    first, guard = list(store.visits("dev-1"))
    assert (first["decided_by"], first["gate"]) == (None, None)
    assert (guard["decided_by"], guard["gate"], guard["ref_visit"], guard["outcome"]) == (
        "guard", "open", rows[0]["visit_id"], "green")


def test_a_write_that_need_not_wait_for_the_disk_is_still_committed(store):
    store.write([("INSERT INTO device_health (device_id, received_ms, record) VALUES (?, ?, ?)", ("d", 1, "{}"))],
                durable=False)
    store.write([("UPDATE device_health SET received_ms = ? WHERE device_id = ?", (2, "d"))])
    assert store.query("SELECT received_ms FROM device_health WHERE device_id = ?", ("d",)) == [(2,)]


def test_a_postgresql_server_that_is_not_there_is_named_at_once(tmp_path):
    # Nothing listens on a port just freed: the server's own refusal is the message, not a pool timeout.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(HubStoreError, match=rf"hub database .*127\.0\.0\.1:{port}.*cannot connect: .*refused"):
        open_database(f"postgresql://hub@127.0.0.1:{port}/hub")
