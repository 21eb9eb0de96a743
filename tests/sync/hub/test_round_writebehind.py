"""A sync round without the database: health records written behind (`HealthBuffer`), the published heads
and site admissions read at most once per window (`RoundCache`); on both back ends."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.errors import HubStoreError
from sync.hub.devicehealth import history, latest, record_many
from sync.hub.healthbuffer import HealthBuffer
from sync.hub.roundcache import NO_ADMISSIONS, OVERLAP_MS, RoundCache, SiteAdmissions
from sync.hub.store import HubStore

GOOD = {"software_version": "1.4.0", "started_at": 1000.0, "errors_since_start": 3, "pending_uploads": 2}


def test_records_wait_for_the_writer_and_a_clean_close_writes_them(store):
    buf = HealthBuffer(store, window=3600)  # the writer writes the first record, then waits an hour
    assert buf.add("gate-1", GOOD, 1_000_000)
    wait = threading.Event()
    while latest(store, "gate-1") is None:  # written at once: the process was idle
        wait.wait(0.01)
    buf.add("gate-2", {**GOOD, "pending_uploads": 7}, 1_000_500)
    buf.add("gate-1", {**GOOD, "errors_since_start": 4}, 1_001_000)
    assert buf.pending() == 2 and latest(store, "gate-2") is None  # within the window: not yet
    buf.close()
    assert buf.pending() == 0
    one, two = latest(store, "gate-1"), latest(store, "gate-2")
    assert one is not None and one.received_ms == 1_001_000 and one.record["errors_since_last"] == 1
    assert two is not None and two.record["pending_uploads"] == 7



def test_the_first_record_is_written_at_once_soon_after_a_boot(store, monkeypatch):
    # The monotonic clock starts near 0 when the machine boots: 40 s after a boot, a writer whose window
    # is an hour must still write the first record at once.
    monkeypatch.setattr("sync.hub.healthbuffer.time.monotonic", lambda: 40.0)
    buf = HealthBuffer(store, window=3600)
    buf.add("gate-1", GOOD, 1_000_000)
    deadline, wait = time.time() + 20, threading.Event()
    while latest(store, "gate-1") is None and time.time() < deadline:
        wait.wait(0.01)
    assert latest(store, "gate-1") is not None and buf.pending() == 0
    buf.close()

def test_rounds_of_one_device_in_a_window_lose_no_error_count(store):
    record_many(store, {"gate-1": (1_000_000, GOOD)})
    buf = HealthBuffer(store, window=3600)
    buf.add("gate-1", {**GOOD, "errors_since_start": 5}, 1_010_000)
    buf.add("gate-1", {**GOOD, "errors_since_start": 9}, 1_020_000)  # replaces the one before
    assert buf.flush() == 1
    h = latest(store, "gate-1")
    assert h is not None and h.received_ms == 1_020_000 and h.record["errors_since_last"] == 6
    assert [x.received_ms for x in history(store, "gate-1")] == [1_000_000]


def test_an_older_record_never_replaces_a_newer_one(store):
    # Two processes: one holds an older record of the device than the other has written already.
    record_many(store, {"gate-1": (2_000_000, {**GOOD, "pending_uploads": 1})})
    record_many(store, {"gate-1": (1_000_000, {**GOOD, "pending_uploads": 99}), "gate-2": (1_000_000, GOOD)})
    h = latest(store, "gate-1")
    assert h is not None and h.received_ms == 2_000_000 and h.record["pending_uploads"] == 1
    assert latest(store, "gate-2") is not None


def test_many_devices_go_in_one_write(store):
    records = {f"gate-{i:04d}": (1_000_000 + i, {**GOOD, "pending_uploads": i}) for i in range(1200)}
    record_many(store, records)
    assert [int(r[0]) for r in store.query("SELECT COUNT(*) FROM device_health")] == [1200]
    h = latest(store, "gate-1199")
    assert h is not None and h.record["pending_uploads"] == 1199
    assert len(store.query("SELECT 1 FROM device_health_history")) == 1200


def test_a_failed_write_keeps_the_records_and_a_full_buffer_says_so(tmp_path):
    store = HubStore(tmp_path / "hub.sqlite")
    buf = HealthBuffer(store, limit=2, writer=False)
    assert buf.add("gate-1", GOOD, 1_000_000)
    assert not buf.add("gate-2", GOOD, 1_000_000)  # full: the caller writes before answering
    with store.db.transaction() as tx:
        tx.execute("ALTER TABLE device_health RENAME TO device_health_away")
    with pytest.raises(HubStoreError):
        buf.flush()
    assert buf.pending() == 2
    with store.db.transaction() as tx:
        tx.execute("ALTER TABLE device_health_away RENAME TO device_health")
    assert buf.flush() == 2 and latest(store, "gate-2") is not None
    store.close()


def test_heads_are_read_once_per_window_and_a_publication_here_at_once(store):
    cache = RoundCache(store, window=3600)
    assert cache.fresh(None) is None
    heads, admissions = cache.load(None)
    assert heads == {} and admissions.rows == []
    assert cache.fresh(None) == ({}, NO_ADMISSIONS)
    other = HubStore(store.url)  # another process's publication: seen when the window has passed
    other.publish("rules", "", 3, None, '{"rules": 3}')
    other.close()
    assert cache.fresh(None) == ({}, NO_ADMISSIONS)
    store.publish("trust", "", 7, None, "{}")  # this process's own: at once
    assert cache.fresh(None) is None
    heads, _ = cache.load(None)
    assert set(heads) == {("rules", ""), ("trust", "")}


def test_site_admissions_are_cached_per_site(store):
    with store.db.transaction() as tx:
        tx.execute("INSERT INTO site_admissions (site, code_id, ts_ms, device_id) VALUES (?, ?, ?, ?)",
                   ("north", "code-1", 10**13, "gate-1"))
    cache = RoundCache(store, window=3600, max_sites=2)
    assert cache.load("north")[1].rows == [("code-1", 10**13, "gate-1", None)]
    assert cache.load("north")[1].site == "north"
    assert cache.fresh("south") is None  # heads are fresh, the site's admissions not yet read
    assert cache.load("south")[1].rows == []
    assert cache.fresh("north") is not None and cache.fresh("south") is not None
    cache.load("east")  # beyond max_sites: the copies are dropped, never grown without bound
    assert cache.fresh("east") is not None
    assert cache.fresh("north") is None and cache.fresh("south") is None


def test_a_device_that_says_what_it_has_gets_what_was_received_since():
    rows = [("new", 5, "gate-1", 100_000), ("edge", 4, "gate-1", 90_000 - OVERLAP_MS), ("old", 9, "gate-2", 50_000),
            ("before-receipt-times", 1, "gate-2", None)]
    feed = SiteAdmissions("north", rows, 120_000)
    assert feed.since(None, "north") == rows
    assert [r[0] for r in feed.since(90_000, "north")] == ["new", "edge", "before-receipt-times"]
    assert [r[0] for r in feed.since(200_000, "north")] == ["before-receipt-times"]
    assert feed.since(200_000, "south") == feed.since(200_000, None) == rows  # what it has is another site's


def sent_by_definition(rows, since_ms):
    return [r for r in rows if r[3] is None or r[3] >= since_ms - OVERLAP_MS]


@given(st.lists(st.one_of(st.none(), st.integers(0, 200_000)), max_size=60), st.lists(st.integers(-20_000, 220_000),
                                                                                     min_size=1, max_size=8))
def test_the_cut_is_every_row_received_since_in_the_copys_order(received, cuts):
    # Newest visit first, receipt times in any order (late uploads, equal times, none at all).
    rows = [(f"code-{i}", 10**6 - i, f"gate-{i % 3}", t) for i, t in enumerate(received)]
    feed = SiteAdmissions("north", rows, 300_000)
    for since in cuts:
        assert feed.since(since, "north") == sent_by_definition(rows, since)


def test_a_late_upload_is_cut_by_its_receipt_not_its_visit_time(store):
    # Visit times newest first; gate-2's visits arrived an hour late, and one row has no receipt time.
    now = int(time.time() * 1000)
    rows = [("a", now - 60_000, "gate-1", now - 59_000), ("late-1", now - 3_600_000, "gate-2", now - 20_000),
            ("b", now - 4_000_000, "gate-1", now - 3_999_000), ("late-2", now - 5_000_000, "gate-2", now - 20_000),
            ("c", now - 6_000_000, "gate-1", now - 5_998_000), ("unknown", now - 7_000_000, "gate-3", None)]
    with store.db.transaction() as tx:
        tx.copy_rows("site_admissions", ("site", "code_id", "ts_ms", "device_id", "received_ms"),
                     [("north", *r) for r in rows])
    feed = RoundCache(store, window=3600).load("north")[1]
    assert feed.rows == rows
    # Cuts of rounds 30 s apart (in order of receipt), and of devices back after an hour or more.
    for ago in (0, 20_000 - OVERLAP_MS, 30_000, 59_000 - OVERLAP_MS, 70_000, 10**6, 3_999_000, 6 * 10**6):
        assert feed.since(now - ago, "north") == sent_by_definition(rows, now - ago)
    assert [r[0] for r in feed.since(now - 30_000, "north")] == ["late-1", "late-2", "unknown"]
