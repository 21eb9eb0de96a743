"""The sync agent against the real hub process: uploads, fault injection, trust and status downloads."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest

from keys.keyfile import load_public_key
from keys.publishing import KeyEntry, sign_status_list, sign_trust_list
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.demo.world import REGIONS, build_demo_world
from scanner.errors import StorageError
from scanner.service.sdnotify import Notifier
from scanner.storage.syncstate import read_status
from scanner.storage.visitlog import VisitLog
from sync.agent import AgentConfig, SyncAgent, backoff_delay
from sync.errors import HubUnavailable
from sync.hub.publish import publish_status_list, publish_trust_list
from sync.hub.store import HubStore
from tests.helpers.faultproxy import FRESH_LISTS, FaultProxy, HubProcess, make_pki
from tests.helpers.visits import fill


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def agent_for(url, pki, data_dir, log, *, trust=None, status=None, **kw) -> SyncAgent:
    cfg = AgentConfig(url=url, client_cert=str(pki.device_cert), client_key=str(pki.device_key),
                      ca_cert=str(pki.ca), data_dir=data_dir, device_id=pki.device_id, **kw)
    return SyncAgent(cfg, log, trust, status, rng=random.Random(1))


def device_with_lists(tmp_path, pki, world, hub) -> tuple[SyncAgent, VisitLog, TrustStore, StatusStore]:
    """A device holding the world's anchor and no lists yet, its agent pointed at `hub`."""
    data = tmp_path / "device"
    log = VisitLog(data / "visits.sqlite")
    trust = TrustStore.open(data / "trust", [load_public_key(world.anchor_path)])
    status = StatusStore.open(data / "status.sqlite")
    return agent_for(hub.url, pki, data, log, trust=trust, status=status), log, trust, status


def hub_ids(db) -> list[str]:
    store = HubStore(db)
    try:
        return [v["visit_id"] for v in store.visits("dev-1")]
    finally:
        store.close()


def test_backoff_grows_with_jitter_and_is_capped():
    rng = random.Random(3)
    delays = [backoff_delay(n, base=1, cap=60, rng=rng) for n in range(1, 12)]
    assert delays[0] <= 1 and 2 <= delays[2] <= 4
    assert all(d <= 60 for d in delays) and delays[-1] >= 30
    assert len({round(backoff_delay(4, base=1, cap=60, rng=rng), 6) for _ in range(20)}) > 1
    assert backoff_delay(0, base=1, cap=60, rng=rng) == 0


def test_round_uploads_everything_and_records_state(tmp_path, pki):
    log = VisitLog(tmp_path / "visits.sqlite")
    ids = fill(log, 1234)
    with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, batch_size=200)
        report = agent.run_once()
        assert report.uploaded == 1234 and report.duplicates == 0 and report.chain_breaks == 0
        assert log.pending_count() == 0
        assert agent.run_once().uploaded == 0
        agent.close()
    assert sorted(hub_ids(tmp_path / "hub.sqlite")) == sorted(ids)
    state = read_status(tmp_path)
    assert state is not None and state.online and state.last_error is None and state.pending == 0
    assert state.hub_time_offset is not None and abs(state.hub_time_offset) < 5
    assert state.uploaded_total == 1234 and state.storage["alarm"] is False
    log.close()


def test_unreachable_hub_is_recorded_as_offline(tmp_path, pki):
    log = VisitLog(tmp_path / "visits.sqlite")
    fill(log, 3)
    with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
        url = hub.url
    agent = agent_for(url, pki, tmp_path, log, timeout=2)
    with pytest.raises(HubUnavailable, match="unreachable"):
        agent.run_once()
    state = read_status(tmp_path)
    assert state is not None and not state.online and state.pending == 3
    assert "unreachable" in state.last_error and state.consecutive_failures == 1
    log.close()


def test_every_fault_still_delivers_each_visit_exactly_once(tmp_path, pki):
    log = VisitLog(tmp_path / "visits.sqlite")
    ids = fill(log, 600)
    faults = ["drop_before", "mid_body", "after_commit", "http_500", "http_503", "stall", "after_commit",
              "mid_body"]
    with HubProcess(tmp_path / "hub.sqlite", pki) as hub, FaultProxy(hub.port, pki, stall_seconds=2.5) as proxy:
        proxy.plan(*faults)
        done = threading.Event()

        def notify(state: str) -> bool:
            if state.startswith("STATUS=online") and log.pending_count() == 0:
                done.set()
            return True

        agent = agent_for(proxy.url, pki, tmp_path, log, batch_size=100, timeout=1.0, interval=0.05,
                          backoff_base=0.05, backoff_max=0.2)
        agent.notifier = Notifier(notify)
        stop = threading.Event()
        runner = threading.Thread(target=agent.run, args=(stop,), daemon=True)
        runner.start()
        assert done.wait(120), f"agent did not finish; faults fired: {proxy.triggered}"
        stop.set()
        runner.join(60)
        assert sorted(proxy.triggered) == sorted(faults)
    held = hub_ids(tmp_path / "hub.sqlite")
    assert len(held) == len(set(held)) == 600
    assert set(held) == set(ids)
    store = HubStore(tmp_path / "hub.sqlite")
    assert all(v["chain_ok"] for v in store.visits("dev-1"))
    store.close()
    # Each visit acknowledged once; the batches whose answer was lost (after_commit x2, stall) came back
    # as duplicates on the resend instead of being stored twice.
    assert agent.state.uploaded_total == 600
    assert agent.state.duplicates_total >= 100
    log.close()


@pytest.fixture
def world_hub(tmp_path, pki):
    world = build_demo_world(tmp_path / "world", int(time.time()))
    store = HubStore(tmp_path / "hub.sqlite")
    publish_trust_list(store, world.trust_list_path)
    for p in world.status_list_paths:
        publish_status_list(store, p)
    with HubProcess(tmp_path / "hub.sqlite", pki, extra=FRESH_LISTS) as hub:
        yield world, store, hub


def test_trust_and_status_lists_are_fetched_verified_and_kept(tmp_path, pki, world_hub):
    world, store, hub = world_hub
    agent, log, trust, status = device_with_lists(tmp_path, pki, world, hub)
    data = tmp_path / "device"
    report = agent.run_once()
    assert report.trust_list == "updated to version 1" and trust.version == 1
    assert report.status_lists == {iss: "snapshot 1" for iss in sorted(REGIONS)}
    assert agent.run_once().trust_list == "unchanged"  # conditional GET: 304
    now = world.now
    zj = world.issuers["CN-ZJ"]

    def put(kind, doc):
        f = tmp_path / f"{kind}-{time.monotonic_ns()}.json"
        f.write_text(json.dumps(doc))
        return (publish_trust_list if kind == "trust" else publish_status_list)(store, f)

    # A delta on the held version is fetched with since= and applied.
    put("status", sign_status_list(zj, issuer="CN-ZJ", version=2, base=1, issued_at=now, next_update=now + 3600,
                                   revoked=[b"\x07" * 16]))
    assert agent.run_once().status_lists["CN-ZJ"] == "delta 2"
    assert status.is_revoked("CN-ZJ", b"\x07" * 16)

    # Tampered trust list: payload changed after signing.
    entries = [KeyEntry(k.public_key(), i, "x", "x") for i, k in world.issuers.items()]
    good = sign_trust_list(world.root, entries, version=5, issued_at=now, next_update=now + 86400)
    body = json.loads(__import__("base64").urlsafe_b64decode(good["payload"] + "=="))
    body["version"] = 6
    import keys.jws as jws
    tampered = {**good, "payload": jws.b64url_encode(json.dumps(body).encode())}
    put("trust", tampered)
    report = agent.run_once()
    assert report.trust_list.startswith("refused") and trust.version == 1
    state = read_status(data)
    assert state is not None and state.trust_list["error"] and state.trust_list["version"] == 1
    assert "trust list" in state.last_error

    # Rolled back: properly signed, but not newer than the cached version.
    put("trust", good)
    assert agent.run_once().trust_list == "updated to version 5" and trust.version == 5
    put("trust", sign_trust_list(world.root, entries, version=4, issued_at=now, next_update=now + 86400))
    report = agent.run_once()
    assert "not newer" in report.trust_list and trust.version == 5
    assert TrustStore.open(data / "trust", [load_public_key(world.anchor_path)]).version == 5

    # Tampered status list: signed by another region's key.
    forged = sign_status_list(world.issuers["CN-SH"], issuer="CN-ZJ", version=3, base=2, issued_at=now,
                              next_update=now + 3600, subjects=[(b"\x01" * 16, 2, now)])
    put("status", forged)
    report = agent.run_once()
    assert report.status_lists["CN-ZJ"].startswith("refused") and status.version("CN-ZJ") == 2
    assert status.lookup("CN-ZJ", b"\x01" * 16) is None
    assert read_status(data).status_lists["CN-ZJ"]["error"]
    agent.close()
    log.close()


def test_a_full_disk_while_a_status_list_is_applied_fails_the_step_not_the_device(tmp_path, pki, world_hub,
                                                                                    monkeypatch, caplog):
    """Disk full while a list is applied: the step fails naming the list and the cause (an environment
    failure, no traceback), the device stays online with its held lists, and the next round applies it."""
    import errno

    world, _, hub = world_hub
    agent, log, trust, status = device_with_lists(tmp_path, pki, world, hub)
    data = tmp_path / "device"
    real_apply = StatusStore.apply_file

    def disk_full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(StatusStore, "apply_file", disk_full)
    with pytest.raises(StorageError, match=r"status list CN.*cannot apply it on this device \(No space left"):
        agent.run_once()
    assert not [r for r in caplog.records if r.exc_info]
    state = read_status(data)
    assert state is not None and state.online and state.steps["status_lists"]["ok"] is False
    assert "No space left on device" in state.last_error and trust.version == 1
    assert status.issuers() == []
    monkeypatch.setattr(StatusStore, "apply_file", real_apply)
    report = agent.run_once()
    assert report.status_lists == {iss: "snapshot 1" for iss in sorted(REGIONS)} and not report.failed
    agent.close()
    log.close()


def test_a_full_disk_under_the_agents_own_files_never_stops_its_rounds(tmp_path, pki):
    """The status file and the site feed cannot be written (as on a full disk: the rename of a finished
    temporary file fails): each round still uploads and the agent keeps running; once the files can be
    written again, they are. A full disk is when uploading, which lets synced visits be purged, matters most."""
    log = VisitLog(tmp_path / "visits.sqlite")
    (tmp_path / "sync-status.json").mkdir()  # a folder in the way: every replace of the file fails
    (tmp_path / "site-admissions.json").mkdir()
    with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, interval=0.05)
        fill(log, 3)
        assert agent.run_once().uploaded == 3  # the round's work is done, only its record is not kept
        stop = threading.Event()
        rounds = threading.Thread(target=agent.run, args=(stop,), kwargs={"max_rounds": 3})
        rounds.start()
        rounds.join(60)
        assert not rounds.is_alive()
        assert agent.state.last_error is None and agent.state.online
        fill(log, 2)
        (tmp_path / "sync-status.json").rmdir()
        assert agent.run_once().uploaded == 2
        agent.close()
    state = read_status(tmp_path)
    assert state is not None and state.online and state.pending == 0 and state.uploaded_total == 5
    log.close()


def test_a_defect_in_a_round_costs_that_round_not_the_agent(tmp_path, pki, monkeypatch, caplog):
    """A round that fails with an error no step expected (a bug, not a `CheckpointError`) is logged with its
    traceback and retried after a backoff; the agent's rounds go on and upload."""
    log = VisitLog(tmp_path / "visits.sqlite")
    with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, interval=0.05, backoff_base=0.05)
        fill(log, 2)
        real, calls = agent.run_once, []

        def a_defect_in_the_first_round():
            calls.append(len(calls))
            if len(calls) == 1:
                raise KeyError("a defect")
            return real()

        monkeypatch.setattr(agent, "run_once", a_defect_in_the_first_round)
        agent.run(threading.Event(), max_rounds=2)
        assert calls == [0, 1] and agent.state.pending == 0
        agent.close()
    assert "sync round failed unexpectedly" in caplog.text and "KeyError" in caplog.text
    assert len(hub_ids(tmp_path / "hub.sqlite")) == 2
    log.close()


def test_a_sync_request_that_cannot_be_taken_never_stops_the_rounds(tmp_path, pki):
    """A `sync-request` the agent cannot remove (a folder in its place) is no request: the rounds go on at
    their interval, where the agent's rounds ended at the first wait between them."""
    log = VisitLog(tmp_path / "visits.sqlite")
    (tmp_path / "sync-request").mkdir()
    with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, interval=0.05)
        fill(log, 2)
        agent.run(threading.Event(), max_rounds=2)
        fill(log, 1)
        agent.run(threading.Event(), max_rounds=1)
        assert agent.state.pending == 0 and agent.state.uploaded_total == 3
        agent.close()
    log.close()


def test_site_admissions_arrive_once_then_only_what_is_new(tmp_path, pki, world_hub):
    """The first round brings the site's whole feed; later rounds only what the hub received since, merged
    into the feed file the kiosk reads (an admission made long ago but uploaded late included); a round
    with nothing new leaves the file alone."""
    from scanner.gate.repeats import Admissions
    from scanner.storage.datadir import DataDir
    from sync.hub.registry import Registry

    _, store, hub = world_hub
    data = tmp_path / "device"
    log = VisitLog(data / "visits.sqlite")
    agent = agent_for(hub.url, pki, data, log)
    agent.run_once()  # the hub registers the device
    Registry(store, ttl=0).place(pki.device_id, site="metro-l1", checkpoints=None)
    now_ms = int(time.time() * 1000)

    def admitted(code_id: str, ts_ms: int, site: str = "metro-l1") -> None:
        store.write([("INSERT INTO site_admissions (site, ts_ms, code_id, device_id, received_ms) "
                      "VALUES (?, ?, ?, ?, ?)", (site, ts_ms, code_id, "gate-x", int(time.time() * 1000)))])

    def feed() -> dict[str, int]:
        doc = json.loads(DataDir(data).site_admissions.read_text())
        return {x["code_id"]: x["ts_ms"] for x in doc["admissions"]}

    admitted("c1", now_ms - 60_000)
    deadline = time.monotonic() + 20
    while "c1" not in feed():  # the placement reaches the hub's registry within its cache second
        assert time.monotonic() < deadline
        agent.run_once()
    agent.run_once()  # from now on the agent says what it has
    written = DataDir(data).site_admissions.stat().st_mtime_ns
    time.sleep(0.05)
    agent.run_once()
    assert DataDir(data).site_admissions.stat().st_mtime_ns == written  # nothing new: not rewritten
    admitted("c2", now_ms - 2 * 3600_000)  # made two hours ago, uploaded only now
    admitted("c3", now_ms - 25 * 3600_000)  # past the day the feed covers
    agent.run_once()
    assert feed() == {"c1": now_ms - 60_000, "c2": now_ms - 2 * 3600_000}
    gate = Admissions(device_id=pki.device_id, data_dir=data)
    gate.refresh()
    assert gate.feed_problem == "" and gate.check("c2", 86400, time.time()) is not None
    # Placed at another site: its feed replaces the old site's, not merged into it.
    Registry(store, ttl=0).place(pki.device_id, site="metro-l2", checkpoints=None)
    admitted("c9", now_ms - 30_000, site="metro-l2")
    deadline = time.monotonic() + 20
    while feed() != {"c9": now_ms - 30_000}:
        assert time.monotonic() < deadline
        agent.run_once()
    agent.close()
    log.close()


def test_full_log_is_reported_and_recovers_after_sync_and_purge(tmp_path, pki):
    from scanner.errors import StorageError

    log = VisitLog(tmp_path / "visits.sqlite", storage_cap_mb=0.1)
    with pytest.raises(StorageError, match="storage full"):
        fill(log, 10_000)
    logged = log.count()
    assert log.storage().full and log.integrity_check() == "ok"
    with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, retention_days=0)
        agent.write_state()
        assert read_status(tmp_path).storage["full"] is True
        report = agent.run_once()
        agent.close()
    assert report.uploaded == logged and report.purged == logged
    assert len(hub_ids(tmp_path / "hub.sqlite")) == logged
    fill(log, 5)  # space is back
    assert not log.storage().full and log.verify().ok and log.pending_count() == 5
    assert read_status(tmp_path).storage["full"] is False
    log.close()


def test_venue_profile_updates_are_checked_and_rollback_refused(tmp_path, pki):
    from sync.agent import PROFILES_FILE
    from sync.errors import PublishError
    from sync.hub.publish import publish_profiles

    store = HubStore(tmp_path / "hub.sqlite")
    good = tmp_path / "profiles.toml"
    good.write_text('version = 2\n[profiles.mall.profile]\nmax_code_age = 7200\n'
                    '[profiles.night-market]\nbase = "mall"\n')
    publish_profiles(store, good)
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 3\n[profiles.mall.profile]\nmax_code_age = -1\n')
    with pytest.raises(PublishError, match="max_code_age"):
        publish_profiles(store, bad)
    log = VisitLog(tmp_path / "visits.sqlite")
    with HubProcess(tmp_path / "hub.sqlite", pki, extra=FRESH_LISTS) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log)
        assert agent.run_once().profiles == "updated to version 2"
        held = json.loads((tmp_path / PROFILES_FILE).read_text())
        assert held == {"version": 2, "profiles": {"mall": {"profile": {"max_code_age": 7200}},
                                                   "night-market": {"base": "mall"}}}
        assert agent.run_once().profiles == "unchanged"
        # A hub serving something the device's own rules refuse, then an older version: both kept out.
        store.publish("profiles", "", 4, None, json.dumps({"version": 4, "profiles": {"mall": {"oops": 1}}}))
        report = agent.run_once()
        assert report.profiles.startswith("refused") and "oops" in report.profiles
        assert "venue profiles" in read_status(tmp_path).last_error
        store.publish("profiles", "", 1, None, json.dumps({"version": 1, "profiles": {}}))
        assert "not newer" in agent.run_once().profiles
        agent.close()
    assert json.loads((tmp_path / PROFILES_FILE).read_text())["version"] == 2
    store.close()
    log.close()


def test_bootstrapped_trust_list_is_unchanged_not_a_rollback(tmp_path, pki, world_hub):
    world, _, hub = world_hub
    data = tmp_path / "device"
    trust = TrustStore.open(data / "trust", [load_public_key(world.anchor_path)])
    trust.update(world.trust_list_path.read_bytes(), "bootstrap")  # the same list the hub publishes
    agent = agent_for(hub.url, pki, data, VisitLog(data / "visits.sqlite"), trust=trust)
    assert agent.run_once().trust_list == "unchanged"
    state = read_status(data)
    assert state is not None and state.trust_list.get("error") is None and state.last_error is None


@pytest.mark.parametrize("wrong", ["client_key", "client_cert", "ca_cert"])
def test_unusable_tls_files_are_named_at_start(tmp_path, pki, wrong):
    """Another device's key, a key for a certificate, a non-PEM CA: named with the setting and the file at
    start, not met as "TLS failed" in every round, retried forever."""
    from scanner.config import settings_from_dict
    from sync.errors import SyncConfigError

    other = make_pki(tmp_path / "other")
    files = {"client_cert": str(pki.device_cert), "client_key": str(pki.device_key), "ca_cert": str(pki.ca)}
    files[wrong] = {"client_key": str(other.device_key), "client_cert": str(pki.device_key),
                    "ca_cert": str(pki.device_key)}[wrong]
    settings = settings_from_dict({"hub": {"url": "https://127.0.0.1:1", **files}}, "device.toml")
    with pytest.raises(SyncConfigError) as e:
        AgentConfig.from_settings(settings)
    assert str(e.value).startswith("device.toml: hub.") and f"hub.{wrong}: {files[wrong]}" in str(e.value)


def test_a_long_status_list_apply_keeps_pinging_the_watchdog(tmp_path, pki, world_hub):
    """A province's list (10 million entries) takes 45 s to apply here and minutes on a Pi, longer than the
    sync unit's WatchdogSec=120: pinged only between requests, systemd would kill the agent mid-apply at
    every restart, and it would never hold the list. The apply pings as it goes: while it reads the list
    and for each of the stage's buckets it merges."""
    from keys.bucketstage import BUCKETS

    world, store, hub = world_hub
    agent, log, _trust, status = device_with_lists(tmp_path, pki, world, hub)
    assert agent.run_once().status_lists == {iss: "snapshot 1" for iss in sorted(REGIONS)}
    now = world.now
    entries = 200_000
    rng = random.Random(5)
    big = sign_status_list(world.issuers["CN-ZJ"], issuer="CN-ZJ", version=2, issued_at=now, next_update=now + 3600,
                           subjects=((rng.randbytes(16), 1 + i % 2, now - 60) for i in range(entries)))
    f = tmp_path / "big.json"
    f.write_text(json.dumps(big))
    publish_status_list(store, f)
    sent: list[str] = []
    agent.notifier = Notifier(lambda m: sent.append(m) or True)
    report = agent.run_once()
    assert report.status_lists["CN-ZJ"] == "snapshot 2" and status.version("CN-ZJ") == 2
    # Every request's end pings once (a handful a round); the apply adds one per bucket merged and more
    # while the list is read.
    pings = sent.count("WATCHDOG=1")
    assert pings > BUCKETS + 10, sent
    log.close()
