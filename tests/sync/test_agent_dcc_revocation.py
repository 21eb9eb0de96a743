"""The EU DCC revocation list from the national platform to the gate: signed with `checkpoint keys
dcc-revocation`, published with `checkpoint hub publish-dcc-revocation` on a real hub, fetched by the agent
in its round, verified and applied to the status store, and seen by the kiosk's own connection."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keys.dccrevocation import sign_dcc_revocation
from keys.keyfile import generate_key, load_public_key
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.checker import Checker
from scanner.clock import FixedClock
from scanner.demo.world import build_demo_world
from scanner.policy import load_profile
from scanner.storage.syncstate import read_status
from scanner.storage.visitlog import VisitLog
from sync.agent import AgentConfig, SyncAgent
from sync.errors import PublishError
from sync.hub.publish import publish_dcc_revocation
from sync.hub.store import HubStore
from tests.helpers.faultproxy import FRESH_LISTS, HubProcess, make_pki

UCI = "URN:UVCI:01:DE:DEMO1#V"  # the demo's vaccination certificate


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def checkpoint(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "scanner.cli", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_revocation_list_is_published_fetched_verified_applied_and_seen_by_the_kiosk(tmp_path, pki):
    world = build_demo_world(tmp_path / "world", int(time.time()))
    anchors = [load_public_key(world.anchor_path)]
    hub_db = tmp_path / "hub.sqlite"
    HubStore(hub_db).close()

    def publish(version: int, *revoke: str, root: str = str(world.directory / "root.key")) -> str:
        f = tmp_path / f"revocation-{version}-{time.monotonic_ns()}.json"
        checkpoint("keys", "dcc-revocation", "--root", root, "--version", str(version),
                   *(x for uci in revoke for x in ("--uci", uci)), "--out", str(f))
        return checkpoint("hub", "publish-dcc-revocation", "--db", str(hub_db), str(f))

    data = tmp_path / "device"
    data.mkdir()
    log = VisitLog(data / "visits.sqlite")
    status = StatusStore.open(data / "status.sqlite")
    kiosk = Checker(TrustStore.from_file(world.trust_list_path, anchors), StatusStore.open(data / "status.sqlite"),
                    load_profile("transport"), clock=FixedClock(world.now))
    dcc = world.payloads["dcc_vaccination"]
    assert kiosk.check(dcc).admit
    with HubProcess(hub_db, pki, extra=FRESH_LISTS) as hub:
        cfg = AgentConfig(url=hub.url, client_cert=str(pki.device_cert), client_key=str(pki.device_key),
                          ca_cert=str(pki.ca), data_dir=data, device_id=pki.device_id)
        agent = SyncAgent(cfg, log, TrustStore.from_file(world.trust_list_path, anchors), status,
                          rng=random.Random(1))
        # Nothing published: the round says so, and no request is made for it.
        assert agent.run_once().dcc_revocation == "unchanged" and "dcc_revocation" not in agent.state.steps

        assert "published DCC revocation list version 2" in publish(2, UCI, "URN:UVCI:01:DE:OTHER")
        assert agent.run_once().dcc_revocation == "updated to version 2 (2 hashes)"
        refused = kiosk.check(dcc)
        assert refused.outcome == "revoked" and not refused.admit
        assert "UCI hash" in refused.result.reasons[0]
        state = read_status(data)
        assert state is not None and state.dcc_revocation["version"] == 2 and state.dcc_revocation["error"] is None
        assert state.steps["dcc_revocation"]["ok"] and state.online
        assert agent.run_once().dcc_revocation == "unchanged"  # the round says nothing changed

        # An older list replayed by the hub, and a newer one signed by a key that is no anchor: both
        # refused, the held list kept, the refusal visible in the status file.
        publish(1)
        assert "not newer than the held version 2" in agent.run_once().dcc_revocation
        state = read_status(data)
        assert state is not None and "not newer" in state.dcc_revocation["error"] and state.online
        foreign = generate_key("ES256")
        other = tmp_path / "foreign.json"
        other.write_text(json.dumps(sign_dcc_revocation(foreign, [], version=9, issued_at=world.now,
                                                        next_update=world.now + 60)))
        publish_dcc_revocation(store := HubStore(hub_db), other)
        store.close()
        assert "pinned trust anchor" in agent.run_once().dcc_revocation
        assert kiosk.check(dcc).outcome == "revoked" and status.dcc_revocation_info().version == 2

        # The lifted revocation reaches the gate with the next list.
        publish(10)
        assert agent.run_once().dcc_revocation == "updated to version 10 (0 hashes)"
        assert kiosk.check(dcc).admit
        state = read_status(data)
        assert state is not None and state.dcc_revocation["version"] == 10 and state.dcc_revocation["error"] is None
        agent.close()
    log.close()


def test_the_hub_refuses_a_file_that_is_no_revocation_list(tmp_path):
    world = build_demo_world(tmp_path / "world", int(time.time()))
    store = HubStore(tmp_path / "hub.sqlite")
    with pytest.raises(PublishError, match="payload type is not 'hc-dccrevocation'"):
        publish_dcc_revocation(store, world.trust_list_path)
    with pytest.raises(PublishError, match="not a signed JWS document"):
        publish_dcc_revocation(store, Path(world.directory / "root.pem"))
    assert store.latest("dccrevocation") is None
    store.close()
