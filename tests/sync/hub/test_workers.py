"""`hub serve --workers N`: several processes share the port and the database, and stop together."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests

from sync.hub.store import HubStore
from tests.helpers.faultproxy import HubProcess, make_pki
from tests.helpers.hubrows import chain_rows, new_log_id


def children(pid: int, want: int) -> list[int]:
    """The hub's worker processes, once `want` of them run (the URL is announced before they are forked)."""
    deadline = time.monotonic() + 30
    while True:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        found = [int(x) for x in out.stdout.split()]
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_workers_share_port_and_database_and_stop_together(pg_cluster, tmp_path):
    url = pg_cluster.database()
    pki = make_pki(tmp_path, "gate-w")
    hub = HubProcess(url, pki, extra=("--workers", "2"))
    try:
        workers = children(hub.proc.pid, 2)
        assert len(workers) == 2
        log = new_log_id()
        rows = chain_rows("gate-w", 40)
        acks = []
        for i in range(4):  # a new connection each time: the kernel hands them to either worker
            with requests.Session() as s:
                s.trust_env = False
                s.verify, s.cert = str(pki.ca), (str(pki.device_cert), str(pki.device_key))
                r = s.post(f"{hub.url}/v1/visits", json={"log_id": log, "visits": rows[i * 10:(i + 1) * 10] * 2},
                           timeout=60)
                assert r.status_code == 200, r.text
                acks.append(r.json())
        assert [a["stored"] for a in acks] == [10] * 4 and [a["last_seq"] for a in acks] == [10, 20, 30, 40]
        assert all(a["gaps"] == [] and a["chain_breaks"] == [] for a in acks)
    finally:
        hub.stop()
    assert hub.proc.returncode == 0
    assert not any(Path(f"/proc/{w}").exists() for w in workers)
    store = HubStore(url, create=False)
    assert store.count("gate-w") == 40
    store.close()
