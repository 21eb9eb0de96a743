"""Text holding a NUL character, which PostgreSQL cannot store, on both back ends and the real hub process.

A device logs whatever a scanned code says about itself when the code fails verification (its issuer,
for one), so a passer-by's crafted QR code can put a NUL into a visit row; a device's health record and
an operator's query string are just as free. None of these may stop a device's uploads, keep other
devices' health records out, or end in a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from cryptography.hazmat.primitives.asymmetric import ec

from keys.hcc1 import CodeClaims, issue_code
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.checker import Checker
from scanner.clock import FixedClock
from scanner.policy import load_profile
from scanner.storage.visitlog import VisitLog, VisitRecord
from sync.hub.devicehealth import latest, record_many
from sync.hub.store import HubStore
from tests.helpers.faultproxy import ROOT, HubProcess, make_pki
from tests.helpers.hubrows import chain_rows, new_log_id
from tests.helpers.operator import logged_in, write_operator_config


def _sync_once(config) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner.cli", "sync", "--once", "--config", str(config)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_crafted_code_whose_issuer_holds_nul_does_not_stop_the_device_uploading(hub_db, tmp_path):
    now = int(time.time())
    pki = make_pki(tmp_path / "pki", "gate-n1")
    # Signed by nobody the device trusts: refused at the gate, and logged with the issuer it claims.
    crafted = issue_code(ec.generate_private_key(ec.SECP256R1()), CodeClaims(iss="CN-ZJ\x00x", iat=now - 60,
                                                                             exp=now + 3600))
    decision = Checker(TrustStore([]), StatusStore.open(":memory:"), load_profile("transport"),
                       clock=FixedClock(now)).check(crafted)
    assert decision.result.issuer == "CN-ZJ\x00x"
    data = tmp_path / "device"
    log = VisitLog(data / "visits.sqlite")
    ids = [log.append(VisitRecord.from_decision(decision, device_id="gate-n1", checkpoint_id="east", clock_trusted=True,
                                                latency_ms=3, at=now - 10 + i)).visit_id for i in range(3)]
    log.close()
    config = tmp_path / "checkpoint.toml"
    with HubProcess(hub_db, pki) as hub:
        config.write_text(f'[device]\nid = "gate-n1"\ncheckpoint_id = "east"\ndata_dir = "{data}"\n\n'
                          + pki.hub_toml(hub.url))
        out = _sync_once(config)
        assert out.returncode == 0, out.stderr
        # Refused by the hub (and reported), so acknowledged: nothing stays pending.
        assert "0 pending" in out.stdout and "issuer holds a NUL" in out.stderr, out.stdout
        # Logged after the crafted ones: they flow too.
        log = VisitLog(data / "visits.sqlite")
        later = log.append(VisitRecord.from_decision(decision, device_id="gate-n1", checkpoint_id="east",
                                                     clock_trusted=True, latency_ms=3, at=now)).visit_id
        log.close()
        again = _sync_once(config)
        assert again.returncode == 0 and "0 pending" in again.stdout, again.stderr
    store = HubStore(hub_db, create=False)
    try:
        refused = store.refusals("gate-n1")
        assert sorted(r["visit_id"] for r in refused) == sorted([*ids, later])
        assert all("issuer" in r["reason"] and "NUL" in r["reason"] for r in refused), refused
        assert store.count("gate-n1") == 0
        assert store.logs("gate-n1")[0]["gaps"] == []  # refused rows still count as held
    finally:
        store.close()


def test_a_nul_in_any_text_of_a_row_refuses_that_row_only(hub_db):
    store = HubStore(hub_db)
    try:
        log_id = new_log_id()
        rows = chain_rows("gate-n2", 1)
        for fields in ({"visit_id": "v\x00id", "profile": "tran\x00sport"}, {"extra": {"a\x00": 1}},
                       {"extra": {"drug_categories": ["x\x00"]}}):
            rows += chain_rows("gate-n2", 1, start_seq=len(rows) + 1, prev=rows[-1]["chain"], **fields)
        res = store.upload("gate-n2", rows, log_id=log_id)
        assert res.acked == [r["visit_id"] for r in rows]
        assert [r["seq"] for r in res.refused] == [2, 3, 4], res.refused
        assert "visit_id" in res.refused[0]["reason"] and "NUL" in res.refused[0]["reason"]
        assert res.stored == 1 and res.gaps == []
        # The same seq again with other content: a conflict, kept, whatever its visit id holds.
        other = chain_rows("gate-n2", 1, start_seq=2, prev=rows[0]["chain"], visit_id="w\x00", code_id="ff")
        res = store.upload("gate-n2", other, log_id=log_id)
        assert res.acked == ["w\x00"] and len(res.conflicts) == 1
        held = store.refusals("gate-n2")
        assert [r["seq"] for r in held] == [2, 3, 4]
        assert len(store.conflicts("gate-n2")) == 1
    finally:
        store.close()


def test_one_devices_health_record_with_nul_does_not_keep_the_others_out(hub_db):
    store = HubStore(hub_db)
    try:
        now_ms = int(time.time() * 1000)
        record_many(store, {
            "gate-bad": (now_ms, {"software_version": "1\x00", "camera": {"state": "bro\x00ken"},
                                  "status_lists": {"CN\x00": {"version": 3}}, "site": "x\x00y"}),
            "gate-good": (now_ms, {"software_version": "2.0", "camera": {"state": "ok"}})})
        good = latest(store, "gate-good")
        assert good is not None and good.record["software_version"] == "2.0"
        bad = latest(store, "gate-bad")
        assert bad is not None
        assert {"software_version", "camera.state", "site"} <= set(bad.record["dropped"]), bad.record
        assert bad.record.get("status_lists") == {}
    finally:
        store.close()


def test_operator_pages_answer_a_nul_in_the_address_without_a_traceback(hub_db, tmp_path):
    pki = make_pki(tmp_path / "pki", "gate-n3")
    config = write_operator_config(tmp_path / "operators.toml")
    with HubProcess(hub_db, pki, operator_config=config) as hub:
        s = logged_in(str(hub.operator_url))
        for path in ("/visits?device=a%00b", "/?q=%00", "/devices/a%00b", "/visits?device=gate-n3&after=a%00:b:1"):
            r = s.get(str(hub.operator_url) + path, timeout=30)
            assert r.status_code == 400 and "NUL character" in r.text, (path, r.status_code, r.text[:300])
        assert s.get(str(hub.operator_url) + "/", timeout=30).status_code == 200
        err = hub.stop()
    assert "Traceback" not in err, err[-2000:]
