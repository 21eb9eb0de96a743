"""The agent against a hostile or broken hub: bad shapes, slow drips, huge lists, a stop request.

Nothing here may end the agent with a traceback, leave `online: true` behind a failure, or stop the
other steps of the round.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time

import pytest

from keys.keyfile import load_public_key
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.demo.world import build_demo_world
from scanner.service.sdnotify import Notifier
from scanner.storage.syncstate import read_status
from scanner.storage.visitlog import VisitLog
from sync.agent import AgentConfig, SyncAgent
from sync.errors import HubRefused, HubUnavailable
from tests.helpers.faultproxy import make_pki
from tests.helpers.hostilehub import HostileHub, Reply
from tests.helpers.visits import fill

TIME_OK = Reply(body=json.dumps({"time": time.time()}).encode())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_demo_world(tmp_path_factory.mktemp("world"), int(time.time()))


def agent_for(url, pki, data_dir, log, *, trust=None, status=None, **kw) -> SyncAgent:
    cfg = AgentConfig(url=url, client_cert=str(pki.device_cert), client_key=str(pki.device_key),
                      ca_cert=str(pki.ca), data_dir=data_dir, device_id=pki.device_id, **kw)
    return SyncAgent(cfg, log, trust, status, rng=random.Random(1))


def stores(tmp_path, world):
    trust = TrustStore.open(tmp_path / "trust", [load_public_key(world.anchor_path)])
    return trust, StatusStore.open(tmp_path / "status.sqlite")


@pytest.mark.parametrize("answer", [b"[1,2,3]", b'{"time": "soon"}', b'{"time": NaN}', b"not json", b'{"time": 1e16}',
                                    b'{"time": 12}',
                                    b"[" * 100_000 + b"]" * 100_000])
def test_bad_time_answer_is_a_recorded_failure(tmp_path, pki, answer) -> None:
    log = VisitLog(tmp_path / "visits.sqlite")
    fill(log, 3)
    with HostileHub(pki, {"/v1/time": Reply(body=answer)}) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log)
        with pytest.raises(HubRefused, match=r"malformed|not JSON"):
            agent.run_once()
    state = read_status(tmp_path)
    assert state is not None and state.online is False and state.pending == 3
    assert state.steps["contact"]["ok"] is False and "GET /v1/time" in state.steps["contact"]["error"]
    assert state.consecutive_failures == 1


@pytest.mark.parametrize("ack", [{"acked": 5}, {"device_id": "dev-1", "received": 3, "stored": -1,
                                                "duplicates": 0, "acked": []}, [1, 2]])
def test_bad_upload_ack_keeps_the_visits_and_lists_are_still_fetched(tmp_path, pki, world, ack) -> None:
    log = VisitLog(tmp_path / "visits.sqlite")
    fill(log, 5)
    trust, status = stores(tmp_path, world)
    routes = {"/v1/time": TIME_OK, "/v1/visits": Reply(body=json.dumps(ack).encode()),
              "/v1/trust-list": Reply(body=world.trust_list_path.read_bytes(), headers={"ETag": '"t1"'})}
    with HostileHub(pki, routes) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, trust=trust, status=status)
        with pytest.raises(HubRefused, match="upload: malformed"):
            agent.run_once()
        assert ("GET", "/v1/trust-list") in hub.seen and ("GET", "/v1/profiles") in hub.seen
    assert log.pending_count() == 5 and trust.version is not None
    state = read_status(tmp_path)
    assert state is not None and not state.online and state.steps["upload"]["ok"] is False
    assert state.steps["trust_list"]["ok"] is True


def test_refused_upload_does_not_stop_list_fetching(tmp_path, pki, world) -> None:
    log = VisitLog(tmp_path / "visits.sqlite")
    fill(log, 2)
    trust, status = stores(tmp_path, world)
    routes = {"/v1/time": TIME_OK, "/v1/visits": Reply(409, b'{"detail": "sequence number already used"}'),
              "/v1/trust-list": Reply(body=world.trust_list_path.read_bytes())}
    with HostileHub(pki, routes) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, trust=trust, status=status)
        with pytest.raises(HubRefused, match="409"):
            agent.run_once()
    assert trust.version is not None and not read_status(tmp_path).online


def test_deeply_nested_trust_list_is_refused_and_the_round_goes_on(tmp_path, pki, world) -> None:
    log = VisitLog(tmp_path / "visits.sqlite")
    trust, status = stores(tmp_path, world)
    deep = b"[" * 100_000 + b"]" * 100_000
    with HostileHub(pki, {"/v1/time": TIME_OK, "/v1/trust-list": Reply(body=deep)}) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, trust=trust, status=status)
        report = agent.run_once()
    assert report.trust_list.startswith("refused") and trust.version is None
    assert "nested too deeply" in read_status(tmp_path).trust_list["error"]


def test_slow_drip_answer_is_cut_at_the_deadline(tmp_path, pki) -> None:
    log = VisitLog(tmp_path / "visits.sqlite")
    for reply in (Reply(body=b'{"time": 1}' + b" " * 1000, drip=0.2),
                  Reply(body=b'{"time": 1}', drip=0.2, drip_head=True)):
        with HostileHub(pki, {"/v1/time": reply}) as hub:
            agent = agent_for(hub.url, pki, tmp_path, log, timeout=1.5)
            t0 = time.monotonic()
            with pytest.raises(HubUnavailable, match=r"no complete answer within 1\.5 s"):
                agent.run_once()
            assert time.monotonic() - t0 < 4
            agent.close()


def test_stop_breaks_off_a_running_request(tmp_path, pki) -> None:
    log = VisitLog(tmp_path / "visits.sqlite")
    with HostileHub(pki, {"/v1/time": Reply(body=b" " * 10_000, drip=0.2)}) as hub:
        stop = threading.Event()
        agent = agent_for(hub.url, pki, tmp_path, log, timeout=60)
        threading.Timer(0.5, stop.set).start()
        t0 = time.monotonic()
        agent.run(stop, max_rounds=5)
        assert time.monotonic() - t0 < 3


def test_oversized_lists_are_refused_and_leave_nothing_behind(tmp_path, pki, world) -> None:
    log = VisitLog(tmp_path / "visits.sqlite")
    trust, status = stores(tmp_path, world)
    trust.update(world.trust_list_path.read_bytes(), "bootstrap")
    big = b" " * 3_000_000
    routes = {"/v1/time": TIME_OK, "/v1/trust-list": Reply(body=big, chunked=True),
              "/v1/status/*": Reply(body=big)}
    with HostileHub(pki, routes) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, trust=trust, status=status,
                          max_trust_list_bytes=1_000_000, max_status_list_bytes=1_000_000)
        with pytest.raises(HubRefused, match="over the limit"):
            agent.run_once()
    state = read_status(tmp_path)
    assert "over the limit" in state.steps["trust_list"]["error"]
    assert "over the limit" in state.steps["status_lists"]["error"]
    assert trust.version == 1 and not list((tmp_path / "spool").glob("*"))


def test_round_answer_drives_what_is_fetched_and_health_is_sent(tmp_path, pki, world) -> None:
    log = VisitLog(tmp_path / "visits.sqlite")
    trust, status = stores(tmp_path, world)
    trust.update(world.trust_list_path.read_bytes(), "bootstrap")
    (tmp_path / "appliance-health.json").write_text(json.dumps({"camera": {"state": "ok", "fps": 15.0},
                                                                "name": "not forwarded"}))
    answer = {"time": time.time(), "changed": {"trust_list": False, "profiles": False, "rules": False,
                                               "status": ["CN-ZJ"]},
              "admissions": [{"code_id": "ab" * 16, "ts_ms": 1, "device_id": "gate-2"}]}
    with HostileHub(pki, {"/v1/round": Reply(body=json.dumps(answer).encode())}) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, trust=trust, status=status)
        report = agent.run_once()
        paths = [p for _, p in hub.seen]
        sent = json.loads(hub.bodies["/v1/round"])
    assert paths == ["/v1/round", "/v1/status/CN-ZJ"] and report.status_lists == {"CN-ZJ": "none published"}
    assert sent["health"]["camera"] == {"state": "ok", "fps": 15.0} and "name" not in sent["health"]
    assert sent["health"]["pending_uploads"] == 0 and sent["have"]["status"] == {}
    site = json.loads((tmp_path / "site-admissions.json").read_text())
    assert site["admissions"] == answer["admissions"]
    assert read_status(tmp_path).online is True


def test_agent_sends_log_id_and_signed_checkpoint_and_keeps_the_ack(tmp_path, pki) -> None:
    from cryptography import x509

    from scanner.storage.chain import checkpoint_message, checkpoint_signature_ok

    log = VisitLog(tmp_path / "visits.sqlite")
    fill(log, 4)
    seq, chain = log.head()

    def ack(body: bytes) -> Reply:
        import gzip

        doc = json.loads(gzip.decompress(body))
        ids = [v["visit_id"] for v in doc["visits"]]
        return Reply(body=json.dumps({"device_id": "dev-1", "log_id": doc["log_id"], "received": len(ids),
                                      "stored": len(ids), "duplicates": 0, "acked": ids, "chain_breaks": [],
                                      "last_seq": seq, "last_chain": chain}).encode())

    with HostileHub(pki, {"/v1/time": TIME_OK, "/v1/visits": ack}) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log)
        agent.run_once()
        import gzip

        sent = json.loads(gzip.decompress(hub.bodies["/v1/visits"]))
    assert sent["log_id"] == log.log_id and sent["checkpoint"]["seq"] == seq
    cert = x509.load_pem_x509_certificate(pki.device_cert.read_bytes())
    assert checkpoint_signature_ok(cert.public_key(), checkpoint_message("dev-1", log.log_id, seq, chain),
                                   sent["checkpoint"]["signature"])
    assert log.hub_ack() == (seq, chain) and log.last_checkpoint().seq == seq
    assert log.verify(cert.public_key(), "dev-1").ok


def _wait_asked(status: int, retry_after: str) -> Reply:
    return Reply(status=status, body=b'{"detail": "busy"}',
                 headers={"Content-Type": "application/json", "Retry-After": retry_after})


@pytest.mark.parametrize(("status", "header", "wait"), [
    (503, "120", 120.0), (429, "45", 45.0),
    (503, "HTTP date 90 s ahead", 90.0),
    (429, "86400", 600.0),  # never beyond the agent's own cap (backoff_max)
    (503, "soon", None), (503, "-5", None),  # not a wait: the usual backoff
])
def test_a_hub_asking_the_device_to_wait_is_given_that_time(tmp_path, pki, status, header, wait) -> None:
    log = VisitLog(tmp_path / "visits.sqlite")
    fill(log, 3)
    if header.startswith("HTTP date"):
        header = email.utils.formatdate(time.time() + 90, usegmt=True)
    with HostileHub(pki, {"/v1/round": _wait_asked(status, header), "/v1/time": _wait_asked(status, header)}) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, backoff_max=600.0)
        stop = threading.Event()
        runner = threading.Thread(target=agent.run, args=(stop,), kwargs={"max_rounds": 1})
        runner.start()
        deadline = time.monotonic() + 60
        while getattr(read_status(tmp_path), "next_attempt_at", None) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        runner.join(30)
    st = read_status(tmp_path)
    assert st is not None and st.next_attempt_at is not None and st.last_attempt is not None
    delay = st.next_attempt_at - st.last_attempt
    if wait is None:
        assert delay <= 2.0, delay  # the first backoff step (base 1 s, jitter)
    else:
        assert wait - 5 <= delay <= wait + 1, (delay, st.last_error)
        assert "asks to wait" in (st.last_error or ""), st.last_error
    assert st.online is False and st.pending == 3


@pytest.mark.parametrize("header", ["\xb2", "\u0663", "1e3", " ", "Wed, 32 Foo 2026 99:00:00 GMT"])
def test_a_retry_after_that_asks_no_usable_wait_is_none(header: str) -> None:
    """A header a hub or proxy garbled (a superscript or another script's digit, a float, a broken date)
    asks for no wait: the agent backs off as usual instead of ending its round in an internal error."""
    from sync.transport import retry_after

    assert retry_after(header) is None


def test_a_long_download_keeps_pinging_the_watchdog_while_bytes_arrive(tmp_path, pki, world) -> None:
    """A request may take `[sync] timeout` (up to 600 s, for lists over a slow link), the sync unit's
    WatchdogSec is 120: pinging only when a request ends, the agent would be killed in the middle of every
    long download. It pings as the answer's chunks arrive."""
    from sync.transport import CHUNK

    log = VisitLog(tmp_path / "visits.sqlite")
    trust, status = stores(tmp_path, world)
    big = b" " * (48 * CHUNK) + b"{}"  # not a trust list: refused once it is all read
    with HostileHub(pki, {"/v1/time": TIME_OK, "/v1/trust-list": Reply(body=big)}) as hub:
        agent = agent_for(hub.url, pki, tmp_path, log, trust=trust, status=status)
        sent: list[str] = []
        agent.notifier = Notifier(lambda m: sent.append(m) or True)
        report = agent.run_once()
    assert report.trust_list.startswith("refused")
    requests = len(hub.seen)
    assert sent.count("WATCHDOG=1") >= requests + 40, (sent.count("WATCHDOG=1"), requests)
