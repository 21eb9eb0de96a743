"""The reference hub as a real process on 127.0.0.1 with mutual TLS and a real SQLite database."""

from __future__ import annotations

import gzip
import json
import shutil
import ssl
import subprocess
import sys
import time

import pytest
import requests

from keys.deviceca import enroll, init_ca
from keys.keyfile import generate_key
from keys.publishing import sign_status_list, sign_trust_list
from scanner.storage.chain import new_visit_id
from scanner.storage.visitlog import VisitLog, VisitRecord
from sync.hub.store import HubStore
from tests.helpers.faultproxy import ROOT, HubProcess, make_pki


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    d = tmp_path_factory.mktemp("hub")
    pki = make_pki(d)
    with HubProcess(d / "hub.sqlite", pki) as proc:
        yield proc, pki, d


def session(pki, cert=None, key=None) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override `verify`
    s.verify = str(pki.ca)
    s.cert = (str(cert or pki.device_cert), str(key or pki.device_key))
    return s


def device_rows(tmp_path, n, device_id="dev-1"):
    with VisitLog(tmp_path / f"visits-{device_id}.sqlite") as log:
        for i in range(n):
            now = time.time()
            log.append(VisitRecord(visit_id=new_visit_id(now), ts_ms=int(now * 1000), device_id=device_id,
                                   checkpoint_id="gate-1", profile="transport", clock_trusted=True,
                                   verdict="ok", admit=True, tone="pass", latency_ms=i % 9,
                                   extra={"school": {"role": "student", "direction": "in"}}))
        return log.pending(n)


def post(s, url, rows, gz=True):
    body = json.dumps({"visits": rows}).encode()
    headers = {"Content-Type": "application/json"}
    if gz:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return s.post(f"{url}/v1/visits", data=body, headers=headers, timeout=30)


def test_health_time_and_openapi(hub):
    proc, pki, _ = hub
    s = session(pki)
    assert s.get(f"{proc.url}/v1/health", timeout=30).json()["status"] == "ok"
    t0 = time.time()
    hub_time = s.get(f"{proc.url}/v1/time", timeout=30).json()["time"]
    assert abs(hub_time - t0) < 60
    doc = s.get(f"{proc.url}/openapi.json", timeout=30).json()
    assert {"/v1/visits", "/v1/trust-list", "/v1/status/{issuer}", "/v1/time", "/v1/health"} <= set(doc["paths"])


def test_no_client_certificate_is_refused(hub):
    proc, pki, _ = hub
    with pytest.raises(requests.exceptions.ConnectionError):
        s = requests.Session()
        s.trust_env = False
        s.get(f"{proc.url}/v1/health", verify=str(pki.ca), timeout=30)


def test_certificate_from_another_ca_is_refused(hub, tmp_path):
    proc, pki, _ = hub
    init_ca(tmp_path / "rogue-ca")
    rogue = enroll(tmp_path / "rogue-ca", "dev-1", tmp_path / "rogue")
    rows = device_rows(tmp_path, 2)
    with pytest.raises(requests.exceptions.ConnectionError):
        post(session(pki, rogue.cert, rogue.key), proc.url, rows)


def test_certificate_of_our_ca_but_not_registered_is_refused_on_every_endpoint(hub, tmp_path):
    proc, pki, _ = hub
    # Signed by the hub's device CA, but never entered in its enrolled.jsonl (a copy of the CA issued it).
    shutil.copytree(pki.ca_dir, tmp_path / "ca-copy")
    stray = enroll(tmp_path / "ca-copy", "dev-stray", tmp_path / "stray")
    s = session(pki, stray.cert, stray.key)
    for path in ("/v1/health", "/v1/time", "/v1/trust-list", "/v1/status", "/openapi.json"):
        r = s.get(f"{proc.url}{path}", timeout=30)
        assert r.status_code == 403 and "not enrolled" in r.json()["detail"], path
    r = post(s, proc.url, device_rows(tmp_path, 1, "dev-stray"))
    assert r.status_code == 403 and "not enrolled" in r.json()["detail"]


def test_upload_is_idempotent_and_checks_the_chain(hub, tmp_path):
    proc, pki, d = hub
    s = session(pki)
    rows = device_rows(tmp_path, 30)
    r = post(s, proc.url, rows[:20])
    ack = r.json()
    assert r.status_code == 200, ack
    assert (ack["device_id"], ack["stored"], ack["duplicates"], ack["chain_breaks"]) == ("dev-1", 20, 0, [])
    assert ack["acked"] == [x["visit_id"] for x in rows[:20]]
    ack = post(s, proc.url, rows[10:30], gz=False).json()
    assert (ack["stored"], ack["duplicates"], len(ack["acked"])) == (10, 10, 20)
    store = HubStore(d / "hub.sqlite")
    held = [v for v in store.visits("dev-1") if v["visit_id"] in {x["visit_id"] for x in rows}]
    assert len(held) == 30 and all(v["chain_ok"] for v in held)
    store.close()


def test_chain_breaks_are_flagged(hub, tmp_path):
    proc, pki, _ = hub
    s = session(pki, *_device2(pki, tmp_path))
    rows = device_rows(tmp_path, 6, "dev-2")
    rows[2] = {**rows[2], "verdict": "expired"}   # edited after hashing
    del rows[4]                                    # row 5 missing: row 6 cannot link... to what we hold
    rows[4] = {**rows[4], "prev_chain": "ab" * 32}
    ack = post(s, proc.url, rows).json()
    problems = {b["seq"]: b["problem"] for b in ack["chain_breaks"]}
    assert "hash" in problems[3]
    assert 6 in problems
    assert ack["stored"] == 5


def _device2(pki, tmp_path):
    creds = enroll(pki.ca_dir, "dev-2", tmp_path / "dev2")
    return creds.cert, creds.key


def test_device_may_only_upload_its_own_visits(hub, tmp_path):
    proc, pki, _ = hub
    r = post(session(pki), proc.url, device_rows(tmp_path, 2, "dev-9"))
    assert r.status_code == 403 and "dev-9" in r.json()["detail"]


def test_bad_bodies_get_clear_errors(hub):
    proc, pki, _ = hub
    s = session(pki)
    r = s.post(f"{proc.url}/v1/visits", data=b"not gzip", headers={"Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 400 and "gzip" in r.json()["detail"]
    r = s.post(f"{proc.url}/v1/visits", json={"visits": [{"seq": 1}]}, timeout=30)
    assert r.status_code == 422


def test_published_lists_conditional_get_and_deltas(hub, tmp_path):
    proc, pki, d = hub
    s = session(pki)
    root, signer = generate_key(), generate_key()
    now = int(time.time())

    def publish(kind, doc):
        f = tmp_path / f"{kind}-{time.monotonic_ns()}.json"
        f.write_text(json.dumps(doc))
        out = subprocess.run([sys.executable, "-m", "sync.hub", f"publish-{kind}", "--db", str(d / "hub.sqlite"),
                              str(f)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert s.get(f"{proc.url}/v1/status/CN-ZJ", timeout=30).status_code == 404
    from keys.publishing import KeyEntry
    tl = sign_trust_list(root, [KeyEntry(signer.public_key(), "CN-ZJ", "浙江", "Zhejiang")], version=7,
                         issued_at=now, next_update=now + 3600)
    assert "version 7" in publish("trust-list", tl)
    r = s.get(f"{proc.url}/v1/trust-list", timeout=30)
    assert r.status_code == 200 and r.json() == tl
    etag = r.headers["ETag"]
    assert s.get(f"{proc.url}/v1/trust-list", headers={"If-None-Match": etag}, timeout=30).status_code == 304
    snap = sign_status_list(signer, issuer="CN-ZJ", version=100, issued_at=now, next_update=now + 3600)
    delta = sign_status_list(signer, issuer="CN-ZJ", version=101, base=100, issued_at=now,
                             next_update=now + 3600, revoked=[b"\x01" * 16])
    publish("status-list", snap)
    assert "delta on 100" in publish("status-list", delta)
    assert s.get(f"{proc.url}/v1/status/CN-ZJ", timeout=30).json() == snap
    assert s.get(f"{proc.url}/v1/status/CN-ZJ?since=100", timeout=30).json() == delta
    assert s.get(f"{proc.url}/v1/status/CN-ZJ?since=55", timeout=30).json() == snap
    assert s.get(f"{proc.url}/v1/status/CN-ZJ?since=101", timeout=30).status_code == 304
    assert s.get(f"{proc.url}/v1/status", timeout=30).json() == {"CN-ZJ": 101}


def test_publish_refuses_a_file_that_is_not_a_signed_list(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    out = subprocess.run([sys.executable, "-m", "sync.hub", "publish-trust-list", "--db",
                          str(tmp_path / "h.sqlite"), str(bad)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "not a signed JWS document" in out.stderr


def test_tls_context_refuses_plain_http(hub):
    proc, _, _ = hub
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{proc.port}/v1/health", timeout=30)
    assert ssl.OPENSSL_VERSION
