"""/metrics across hub processes: with PROMETHEUS_MULTIPROC_DIR every process's counters add up."""

from __future__ import annotations

import os
import subprocess
import sys

from sync.hub.devicehealth import record_health
from sync.hub.store import HubStore
from tests.helpers import REPO

COUNT = """
import sys
from sync.hub import metrics
metrics.visits_ingested(int(sys.argv[1]))
metrics.REFUSED.labels("too_large").inc()
"""
RENDER = """
import sys
from sync.hub import metrics
from sync.hub.devicehealth import Thresholds
from sync.hub.store import HubStore
sys.stdout.write(metrics.render(HubStore(sys.argv[1]), Thresholds()).decode())
"""


def run(code: str, *args: str, env: dict[str, str | None]) -> str:
    """Run `code` in a fresh interpreter; a None in `env` removes that variable."""
    merged = {**os.environ, "PYTHONPATH": str(REPO), **env}
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in merged.items() if v is not None})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_counters_of_several_processes_add_up_and_devices_come_from_the_database(tmp_path):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    run(COUNT, "7", env=env)
    run(COUNT, "5", env=env)
    db = tmp_path / "hub.sqlite"
    store = HubStore(db)
    record_health(store, "gate-1", {"trust_list": {"version": 1, "age": 1.0}})
    record_health(store, "gate-2", {"trust_list": {"version": 1, "age": 1.0}}, now=1.0)
    store.close()
    text = run(RENDER, str(db), env=env)
    assert "checkpoint_hub_visits_ingested_total 12.0" in text
    assert 'checkpoint_hub_uploads_refused_total{reason="too_large"} 2.0' in text
    assert 'checkpoint_hub_devices{state="ok"} 1.0' in text and 'checkpoint_hub_devices{state="offline"} 1.0' in text
    # Without the shared directory a process reports only its own counters.
    # (Unset, not empty: prometheus-client would take "" as a directory and write counter files into the cwd.)
    alone = run(RENDER, str(db), env={"PROMETHEUS_MULTIPROC_DIR": None})
    assert "checkpoint_hub_visits_ingested_total 0.0" in alone


def test_every_worker_of_a_hub_reports_the_whole_hub(tmp_path):
    import gzip
    import json

    import requests

    from tests.helpers.faultproxy import HubProcess, make_pki
    from tests.helpers.hubrows import chain_rows
    from tests.helpers.operator import write_operator_config

    TOKEN = "metrics-token-0123456789"
    pki = make_pki(tmp_path, "gate-w")
    config = write_operator_config(tmp_path / "operators.toml", metrics_token=TOKEN)
    rows = chain_rows("gate-w", 30)
    with HubProcess(tmp_path / "hub.sqlite", pki, operator_config=config, extra=("--workers", "2")) as hub:
        for i in range(3):
            s = requests.Session()  # a new connection each time: the kernel picks the worker
            s.trust_env = False
            s.verify, s.cert = str(pki.ca), (str(pki.device_cert), str(pki.device_key))
            body = gzip.compress(json.dumps({"log_id": None, "visits": rows[i * 10:(i + 1) * 10]}).encode())
            r = s.post(f"{hub.url}/v1/visits", data=body, timeout=30,
                       headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
            assert r.status_code == 200 and r.json()["stored"] == 10
            s.close()
        for _ in range(8):
            r = requests.get(hub.operator_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}",
                                                                      "Connection": "close"}, timeout=30)
            assert "checkpoint_hub_uploads_total 3.0" in r.text
            assert "checkpoint_hub_visits_ingested_total 30.0" in r.text
