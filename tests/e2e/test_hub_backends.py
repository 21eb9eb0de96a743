"""End to end on both hub back ends: three devices, two hub processes sharing one database, one hub
SIGKILLed in the middle of the uploads; every visit arrives exactly once with its chain intact.

Real `checkpoint sync --once` processes, real hubs (`python -m sync.hub serve`) on 127.0.0.1 with mutual
TLS, a real SQLite file or a real PostgreSQL database from the throwaway cluster.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from keys.deviceca import enroll
from scanner.storage.chain import GENESIS, chain_hash, new_visit_id
from scanner.storage.visitlog import VisitLog, VisitRecord
from sync.hub.store import HubStore
from tests.helpers.faultproxy import ROOT, HubProcess, make_pki

N = 1500
DEVICES = ("gate-a", "gate-b", "gate-c")


def sync_once(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scanner.cli", "sync", "--once", "--config", str(config)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def write_config(path: Path, device: str, data: Path, url: str, cert: Path, key: Path, ca: Path) -> None:
    path.write_text(f"""
[device]
id = "{device}"
checkpoint_id = "east-entrance"
data_dir = "{data}"

[hub]
url = "{url}"
client_cert = "{cert}"
client_key = "{key}"
ca_cert = "{ca}"

[sync]
batch_size = 100
timeout = 30
""")


def test_two_hubs_one_database_one_killed_mid_upload_every_visit_once(hub_db, tmp_path):
    pki = make_pki(tmp_path / "pki", DEVICES[0])
    creds = {DEVICES[0]: (pki.device_cert, pki.device_key)}
    for d in DEVICES[1:]:
        c = enroll(pki.ca_dir, d, tmp_path / "pki" / d)
        creds[d] = (c.cert, c.key)
    ids: dict[str, list[str]] = {}
    start = time.time() - N
    for d in DEVICES:
        with VisitLog(tmp_path / d / "visits.sqlite") as log:
            ids[d] = [log.append(VisitRecord(visit_id=new_visit_id(start + i), ts_ms=int((start + i) * 1000),
                                             device_id=d, checkpoint_id="east-entrance", profile="transport",
                                             clock_trusted=True, verdict="ok", admit=True, tone="pass",
                                             latency_ms=i % 7)).visit_id for i in range(N)]

    with HubProcess(hub_db, pki) as hub1, HubProcess(hub_db, pki) as hub2:
        configs = {}
        for d in DEVICES:
            configs[d] = tmp_path / d / "checkpoint.toml"
            write_config(configs[d], d, tmp_path / d, hub2.url if d == "gate-c" else hub1.url, *creds[d], pki.ca)
        running = {d: sync_once(configs[d]) for d in DEVICES}
        store = HubStore(hub_db, create=False)
        try:
            # SIGKILL the first hub once it has stored part of gate-a's backlog.
            deadline = time.monotonic() + 120
            while store.count("gate-a") == 0 and time.monotonic() < deadline and running["gate-a"].poll() is None:
                time.sleep(0.05)
            held_at_kill = store.count("gate-a")
            hub1.proc.kill()
            for p in running.values():
                p.communicate(timeout=300)
            # The devices of the dead hub turn to the other one; a round that fails is simply run again.
            for d in ("gate-a", "gate-b"):
                write_config(configs[d], d, tmp_path / d, hub2.url, *creds[d], pki.ca)
            for d in DEVICES:
                for _ in range(3):
                    p = sync_once(configs[d])
                    out, err = p.communicate(timeout=300)
                    if p.returncode == 0 and "0 pending" in out:
                        break
                assert p.returncode == 0 and "0 pending" in out, err

            assert held_at_kill < N, "the hub was killed after gate-a's upload had ended: nothing interrupted"
            for d in DEVICES:
                rows = list(store.visits(d))
                assert [r["visit_id"] for r in rows] == ids[d]  # each exactly once, in order
                prev = GENESIS
                for r in rows:
                    assert r["chain_ok"] and r["prev_chain"] == prev and chain_hash(prev, r) == r["chain"]
                    prev = r["chain"]
                (log,) = store.logs(d)
                assert (log["last_seq"], log["gaps"], log["signed_seq"]) == (N, [], N)
            assert store.refusals() == [] and store.conflicts() == []
        finally:
            store.close()
