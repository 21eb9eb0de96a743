"""`checkpoint sync` as a process: a damaged cached trust list does not keep it from working, and SIGTERM
ends it within seconds even while the hub drips an answer."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time

from scanner.demo.world import build_demo_world
from scanner.storage.syncstate import read_status
from scanner.storage.visitlog import VisitLog
from sync.hub.publish import publish_trust_list
from sync.hub.store import HubStore
from tests.helpers.cli import checkpoint
from tests.helpers.faultproxy import ROOT, HubProcess, make_pki
from tests.helpers.hostilehub import HostileHub, Reply
from tests.helpers.notifysock import drain, notify_socket_at
from tests.helpers.visits import fill


def config_for(tmp_path, world, pki, url: str):
    data = tmp_path / "device"
    config = tmp_path / "checkpoint.toml"
    config.write_text(f"""
[device]
id = "{pki.device_id}"
data_dir = "{data}"

[trust]
anchors = ["{world.anchor_path}"]

{pki.hub_toml(url)}
[sync]
timeout = 60
interval = 30
""")
    return config, data


def test_damaged_cached_trust_list_is_set_aside_and_replaced(tmp_path):
    world = build_demo_world(tmp_path / "world", int(time.time()))
    pki = make_pki(tmp_path / "pki")
    store = HubStore(tmp_path / "hub.sqlite")
    publish_trust_list(store, world.trust_list_path)
    store.close()
    with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
        config, data = config_for(tmp_path, world, pki, hub.url)
        (data / "trust").mkdir(parents=True)
        (data / "trust" / "trustlist.json").write_bytes(world.trust_list_path.read_bytes()[:200])
        log = VisitLog(data / "visits.sqlite")
        fill(log, 7, pki.device_id)
        log.close()
        r = checkpoint("sync", "--once", "--config", str(config), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "7 uploaded" in r.stdout and "trust list updated to version" in r.stdout
    assert (data / "trust" / "trustlist.json.bad-1").read_bytes() == world.trust_list_path.read_bytes()[:200]
    state = read_status(data)
    assert state is not None and state.online and state.trust_list["problem"] is None


def test_sigterm_ends_the_agent_within_five_seconds_during_a_slow_answer(tmp_path):
    world = build_demo_world(tmp_path / "world", int(time.time()))
    pki = make_pki(tmp_path / "pki")
    with HostileHub(pki, {"/v1/round": Reply(body=b" " * 100_000, drip=0.5)}) as hub:
        config, _ = config_for(tmp_path, world, pki, hub.url)
        proc = subprocess.Popen([sys.executable, "-m", "scanner.cli", "sync", "--config", str(config)], cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while ("POST", "/v1/round") not in hub.seen and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ("POST", "/v1/round") in hub.seen
        time.sleep(1)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        finally:
            proc.kill()
        took = time.monotonic() - t0
    assert proc.returncode == 0 and took < 5, (took, proc.stderr.read() if proc.stderr else "")


def test_a_round_with_every_sync_and_log_number_at_its_maximum_fails_only_on_the_hub(tmp_path):
    """The largest values `config check` lets through are ones the agent can use: a timeout beyond what a
    socket holds, or a retention beyond SQLite's integers, ended every round in an unexpected failure."""
    from scanner.config import LogSettings, SyncSettings

    world = build_demo_world(tmp_path / "world", int(time.time()))
    pki = make_pki(tmp_path / "pki")
    config, data = config_for(tmp_path, world, pki, "https://127.0.0.1:1")
    text = config.read_text().split("[sync]")[0]
    for name, cls in (("sync", SyncSettings), ("log", LogSettings)):
        fields = [f for f in dataclasses.fields(cls) if "max" in f.metadata]
        text += f"[{name}]\n" + "".join(f"{f.name} = {f.metadata['max']!r}\n" for f in fields)
    config.write_text(text)
    assert checkpoint("config", "check", str(config)).returncode == 0
    log = VisitLog(data / "visits.sqlite")
    fill(log, 3, pki.device_id)
    log.close()
    r = checkpoint("sync", "--once", "--config", str(config), timeout=120)
    assert r.returncode == 2 and "unreachable" in r.stderr, r.stderr
    assert "unexpected" not in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_hub_refusal_that_is_not_text_systemd_can_take_does_not_end_the_daemon(tmp_path):
    """A refusal's `detail` is JSON, where `\\udcff` is a lone surrogate: the status line built from it could
    not be encoded for sd_notify, which ended the rounds (exit 1, restarted by systemd every 15 s)."""
    world = build_demo_world(tmp_path / "world", int(time.time()))
    pki = make_pki(tmp_path / "pki")
    refusal = Reply(status=403, body=b'{"detail": "device \\udcff revoked"}')
    with HostileHub(pki, {"/v1/round": refusal}) as hub, notify_socket_at(tmp_path / "n.sock") as (sock, env):
        config, _ = config_for(tmp_path, world, pki, hub.url)
        config.write_text(config.read_text().replace("interval = 30", "interval = 1")
                          + "backoff_max = 1\n")
        proc = subprocess.Popen([sys.executable, "-m", "scanner.cli", "sync", "--config", str(config)], cwd=ROOT,
                                env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        statuses: list[bytes] = []
        try:
            deadline = time.monotonic() + 60
            while (len([s for s in statuses if b"revoked" in s]) < 2 and proc.poll() is None
                   and time.monotonic() < deadline):
                statuses += [m for m in drain(sock) if m.startswith(b"STATUS=")]
                time.sleep(0.1)
            alive = proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        finally:
            proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
    assert alive, err
    assert proc.returncode == 0, err
    assert any(s.startswith(b"STATUS=offline: ") and "device \ufffd revoked".encode() in s for s in statuses), statuses


def test_the_daemon_on_a_device_without_a_hub_says_so_once_and_stays_down(tmp_path):
    """An offline-only device (`[hub] url = ""`, the example's default) has the sync unit enabled by the
    installer: an exit 2 would have systemd start it again every 15 s for good, a Python start and a journal
    line each time. The agent tells systemd it is ready and done, and exits 0 (not restarted)."""
    config = tmp_path / "checkpoint.toml"
    config.write_text(f'[device]\ndata_dir = "{tmp_path / "device"}"\n')
    with notify_socket_at(tmp_path / "n.sock") as (sock, env):
        r = subprocess.run([sys.executable, "-m", "scanner.cli", "sync", "--config", str(config)], cwd=ROOT,
                           env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                           timeout=60)
        sent = [m.decode() for m in drain(sock)]
    assert r.returncode == 0, r.stderr
    said = r.stdout + r.stderr  # the daemon logs to standard output, the journal under systemd
    assert said.count("\n") == 1 and "no [hub] url" in said and "level=warning" in said, said
    assert sent[0] == "READY=1" and sent[1].startswith("STATUS=offline only: no [hub] url") and sent[-1] == "STOPPING=1"
    once = checkpoint("sync", "--once", "--config", str(config))
    assert once.returncode == 2 and "[hub] url" in once.stderr  # a round asked for by hand is still refused


def test_a_batch_the_hub_finds_too_large_is_sent_in_smaller_ones(tmp_path):
    """Rows of crafted codes with long claimed issuers (logged as the code says) can make a large batch
    inflate past the hub's limit: the hub answers 413 for it on every retry. The agent halves the batch
    until the hub takes it, and every visit arrives."""
    from scanner.storage.chain import new_visit_id
    from scanner.storage.visitlog import VisitRecord

    world = build_demo_world(tmp_path / "world", int(time.time()))
    pki = make_pki(tmp_path / "pki")
    config, data = config_for(tmp_path, world, pki, "https://127.0.0.1:1")
    config.write_text(config.read_text().replace("[sync]\n", "[sync]\nbatch_size = 2000\n"))
    now = time.time()
    with VisitLog(data / "visits.sqlite") as log:
        for i in range(2000):
            log.append(VisitRecord(visit_id=new_visit_id(now + i / 1000), ts_ms=int(now * 1000) + i,
                                   device_id=pki.device_id, checkpoint_id="gate-1", profile="transport",
                                   clock_trusted=True, verdict="unknown_key", admit=False, tone="stop",
                                   issuer="CN-" + "Z" * 10_000, latency_ms=3))
    db = tmp_path / "hub.sqlite"
    with HubProcess(db, pki) as hub:
        config.write_text(config.read_text().replace("https://127.0.0.1:1", hub.url))
        out = checkpoint("sync", "--once", "--config", str(config), timeout=300)
        assert out.returncode == 0, out.stderr
        assert "2000 uploaded" in out.stdout and "0 pending" in out.stdout, out.stdout
    store = HubStore(db, create=False)
    try:
        assert store.count(pki.device_id) == 2000
    finally:
        store.close()
