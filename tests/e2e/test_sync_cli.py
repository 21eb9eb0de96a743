"""End to end: 5,000 visits logged offline, the hub starts, `checkpoint sync --once` delivers them all.

Everything runs as the real `checkpoint` command in subprocesses, against the hub on 127.0.0.1 with
mutual TLS and real SQLite files on both sides.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

from keys.keyfile import load_public_key
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.checker import Checker
from scanner.clock import FixedClock
from scanner.demo.world import build_demo_world
from scanner.policy import load_profile
from scanner.storage.chain import GENESIS, chain_hash, new_visit_id
from scanner.storage.visitlog import VisitLog, VisitRecord
from sync.hub.store import HubStore
from tests.helpers.cli import checkpoint
from tests.helpers.faultproxy import ROOT, HubProcess, make_pki

N = 5000



def test_offline_backlog_reaches_the_hub_exactly_once_with_the_chain_intact(tmp_path):
    world = build_demo_world(tmp_path / "world", int(time.time()))
    pki = make_pki(tmp_path / "pki", "gate-e2e")
    data = tmp_path / "device"
    config = tmp_path / "checkpoint.toml"
    config.write_text(f"""
[device]
id = "gate-e2e"
checkpoint_id = "east-entrance"
data_dir = "{data}"

[trust]
anchors = ["{world.anchor_path}"]

{pki.hub_toml("https://127.0.0.1:1")}
[sync]
batch_size = 500
timeout = 30
""")
    # Offline: the gate checks codes and logs every decision.
    trust = TrustStore.from_file(world.trust_list_path, [load_public_key(world.anchor_path)])
    checker = Checker(trust, StatusStore.open(":memory:"), load_profile("transport"), clock=FixedClock(world.now))
    decisions = [checker.check(s.payload) for s in world.samples.values()]
    log = VisitLog(data / "visits.sqlite")
    ids = [log.append(VisitRecord.from_decision(decisions[i % len(decisions)], device_id="gate-e2e",
                                                checkpoint_id="east-entrance", clock_trusted=True,
                                                latency_ms=3, at=world.now - N + i)).visit_id
           for i in range(N)]
    log.close()
    offline = checkpoint("sync", "--once", "--config", str(config), timeout=120)
    assert offline.returncode == 2 and "unreachable" in offline.stderr

    # The hub comes up with the trust list and status lists published.
    hub_db = tmp_path / "hub.sqlite"
    assert checkpoint("hub", "publish-trust-list", "--db", str(hub_db), str(world.trust_list_path)).returncode == 0
    for p in world.status_list_paths:
        assert checkpoint("hub", "publish-status-list", "--db", str(hub_db), str(p)).returncode == 0
    with HubProcess(hub_db, pki) as hub:
        config.write_text(config.read_text().replace("https://127.0.0.1:1", hub.url))
        out = checkpoint("sync", "--once", "--config", str(config))
        assert out.returncode == 0, out.stderr
        assert f"{N} uploaded" in out.stdout and "0 pending" in out.stdout
        assert "trust list updated to version 1" in out.stdout
        again = checkpoint("sync", "--once", "--config", str(config))
        assert again.returncode == 0 and "0 uploaded" in again.stdout and "trust list unchanged" in again.stdout
        # The round said no status list changed: the device holds three, it does not have "no status lists".
        assert "; status lists unchanged;" in again.stdout, again.stdout

    listed = checkpoint("hub", "visits", "--db", str(hub_db), "--device", "gate-e2e", "--count")
    assert f"{N} visits, 0 flagged chain breaks" in listed.stderr
    store = HubStore(hub_db)
    rows = list(store.visits("gate-e2e"))
    store.close()
    assert [r["visit_id"] for r in rows] == ids
    prev = GENESIS
    for r in rows:
        assert r["prev_chain"] == prev and chain_hash(prev, r) == r["chain"]
        prev = r["chain"]

    verify = checkpoint("log", "verify", "--config", str(config))
    assert verify.returncode == 0 and f"ok: {N} rows, chain intact, 0 not yet synced" in verify.stdout
    status = checkpoint("sync", "--status", "--config", str(config))
    state = json.loads(status.stdout)
    assert state["online"] and state["pending"] == 0 and state["uploaded_total"] == N
    assert state["trust_list"]["version"] == 1 and set(state["status_lists"]) == {"CN", "CN-SH", "CN-ZJ"}
    assert isinstance(state["hub_time_offset"], float)


def test_agent_daemon_notifies_systemd_uploads_new_visits_and_stops_on_sigterm(tmp_path):
    pki = make_pki(tmp_path / "pki", "gate-d")
    data = tmp_path / "device"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "n.sock"))
    sock.settimeout(60)
    messages: list[str] = []

    def wait_for(prefix: str) -> str:
        while True:
            msg = sock.recv(4096).decode()
            messages.append(msg)
            if msg.startswith(prefix):
                return msg

    def append(n: int) -> None:
        with VisitLog(data / "visits.sqlite") as log:
            for _ in range(n):
                now = time.time()
                log.append(VisitRecord(visit_id=new_visit_id(now), ts_ms=int(now * 1000), device_id="gate-d",
                                       checkpoint_id="mall-2", profile="mall", clock_trusted=True,
                                       verdict="ok", admit=True, tone="pass"))

    with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
        config = tmp_path / "checkpoint.toml"
        config.write_text(f"""
[device]
id = "gate-d"
data_dir = "{data}"

{pki.hub_toml(hub.url)}
[sync]
interval = 1
timeout = 30
""")
        append(3)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(tmp_path / "n.sock"),
               "WATCHDOG_USEC": "2000000"}
        env.pop("WATCHDOG_PID", None)
        agent = subprocess.Popen([sys.executable, "-m", "scanner.cli", "sync", "--config", str(config)], cwd=ROOT,
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert wait_for("READY=1") == "READY=1"
            assert wait_for("STATUS=online").startswith("STATUS=online, 3 uploaded, 0 pending")
            append(2)  # logged while the agent runs: picked up by the next round
            while not wait_for("STATUS=online").startswith("STATUS=online, 2 uploaded"):
                pass
            assert "WATCHDOG=1" in messages
            agent.send_signal(signal.SIGTERM)
            assert wait_for("STOPPING=1") == "STOPPING=1"
            assert agent.wait(60) == 0
        finally:
            if agent.poll() is None:
                agent.kill()
            agent.communicate()
            sock.close()
    store = HubStore(tmp_path / "hub.sqlite")
    assert store.count("gate-d") == 5
    store.close()
