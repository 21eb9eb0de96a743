"""A status-list delta the device refuses is followed by a full snapshot in the same round (the real agent
against the real hub process): the issuer's list never goes stale behind one bad delta, and a bad snapshot
is reported and tried again on a later round, never fetched over and over."""

from __future__ import annotations

import json
import random
import time

import pytest

from keys.keyfile import load_public_key
from keys.publishing import sign_status_list
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.demo.world import REGIONS, build_demo_world
from scanner.storage.syncstate import read_status
from scanner.storage.visitlog import VisitLog
from sync.agent import AgentConfig, SyncAgent
from sync.hub.publish import publish_status_list, publish_trust_list
from sync.hub.store import HubStore
from tests.helpers.faultproxy import FRESH_LISTS, HubProcess, make_pki


@pytest.fixture
def device_and_hub(tmp_path):
    pki = make_pki(tmp_path / "pki")
    world = build_demo_world(tmp_path / "world", int(time.time()))
    store = HubStore(tmp_path / "hub.sqlite")
    publish_trust_list(store, world.trust_list_path)
    for p in world.status_list_paths:
        publish_status_list(store, p)
    data = tmp_path / "device"
    log = VisitLog(data / "visits.sqlite")
    trust = TrustStore.open(data / "trust", [load_public_key(world.anchor_path)])
    status = StatusStore.open(data / "status.sqlite")
    with HubProcess(tmp_path / "hub.sqlite", pki, extra=FRESH_LISTS) as hub:
        cfg = AgentConfig(url=hub.url, client_cert=str(pki.device_cert), client_key=str(pki.device_key),
                          ca_cert=str(pki.ca), data_dir=data, device_id=pki.device_id)
        agent = SyncAgent(cfg, log, trust, status, rng=random.Random(1))
        yield world, store, agent, status
        agent.close()
    log.close()
    store.close()


def test_a_refused_delta_is_followed_by_a_snapshot_and_a_bad_snapshot_is_reported(tmp_path, device_and_hub):
    world, store, agent, status = device_and_hub
    assert agent.run_once().status_lists == {iss: "snapshot 1" for iss in sorted(REGIONS)}
    now = world.now
    zj, sh = world.issuers["CN-ZJ"], world.issuers["CN-SH"]

    def put(doc):
        f = tmp_path / f"status-{time.monotonic_ns()}.json"
        f.write_text(json.dumps(doc))
        publish_status_list(store, f)

    gets: list[str] = []
    request = agent.client.request

    def counted(method, path, **kw):
        if path.startswith("/v1/status/CN-ZJ"):
            gets.append(json.dumps(kw.get("params") or {}, sort_keys=True))
        return request(method, path, **kw)

    agent.client.request = counted

    # The hub serves the delta on the held version 1, which the device cannot apply (signed by another
    # region's key); the issuer has also published a full snapshot 3.
    put(sign_status_list(sh, issuer="CN-ZJ", version=2, base=1, issued_at=now, next_update=now + 3600,
                         revoked=[b"\x05" * 16]))
    put(sign_status_list(zj, issuer="CN-ZJ", version=3, issued_at=now, next_update=now + 3600,
                         subjects=[(b"\x01" * 16, 2, now)]))
    report = agent.run_once()
    assert report.status_lists["CN-ZJ"].startswith("snapshot 3"), report.status_lists
    assert "delta 2 refused" in report.status_lists["CN-ZJ"]
    assert status.version("CN-ZJ") == 3 and status.lookup("CN-ZJ", b"\x01" * 16) is not None
    assert not status.is_revoked("CN-ZJ", b"\x05" * 16)
    assert read_status(agent.config.data_dir).status_lists["CN-ZJ"]["error"] is None
    assert gets == ['{"since": 1}', "{}", '{"since": 3}']  # the last one: 304, nothing newer

    # A bad delta and a bad snapshot: one request for each, the refusal is reported, the held list kept.
    put(sign_status_list(sh, issuer="CN-ZJ", version=4, base=3, issued_at=now, next_update=now + 3600))
    put(sign_status_list(sh, issuer="CN-ZJ", version=5, issued_at=now, next_update=now + 3600))
    for _ in range(2):  # and again on the next round, which the round protocol still asks for
        gets.clear()
        report = agent.run_once()
        assert report.status_lists["CN-ZJ"].startswith("refused"), report.status_lists
        assert gets == ['{"since": 3}', "{}"]
        assert status.version("CN-ZJ") == 3
        assert read_status(agent.config.data_dir).status_lists["CN-ZJ"]["error"]

    # A good snapshot published later arrives on the next round.
    put(sign_status_list(zj, issuer="CN-ZJ", version=6, issued_at=now, next_update=now + 3600))
    gets.clear()
    assert agent.run_once().status_lists["CN-ZJ"].startswith("snapshot 6")
    assert status.version("CN-ZJ") == 6 and gets == ['{"since": 3}', "{}", '{"since": 6}']
    assert read_status(agent.config.data_dir).status_lists["CN-ZJ"]["error"] is None
