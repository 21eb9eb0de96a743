"""The device registry and the one-request round against a real hub process (mutual TLS, real SQLite):
revocation on every endpoint, venues and sites, signed checkpoints checked, read-only commands."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from keys.deviceca import enroll
from keys.keyfile import generate_key, load_private_key
from scanner.storage.chain import checkpoint_message, sign_checkpoint
from sync.hub.store import HubStore
from tests.helpers.faultproxy import ROOT, HubProcess, make_pki
from tests.helpers.hubrows import chain_rows, new_log_id


def hub_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync.hub", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})


def session(pki, cert, key) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = str(pki.ca)
    s.cert = (str(cert), str(key))
    return s


def upload(s, url, rows, log_id, checkpoint=None):
    body = {"log_id": log_id, "visits": rows, **({"checkpoint": checkpoint} if checkpoint else {})}
    return s.post(f"{url}/v1/visits", data=gzip.compress(json.dumps(body).encode()), timeout=30,
                  headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})


def signed(key_path, device, log_id, row):
    key = load_private_key(str(key_path))
    return {"seq": row["seq"], "chain": row["chain"],
            "signature": sign_checkpoint(key, checkpoint_message(device, log_id, row["seq"], row["chain"]))}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    d = tmp_path_factory.mktemp("registry")
    pki = make_pki(d, "gate-1")
    with HubProcess(d / "hub.sqlite", pki) as proc:
        yield proc, pki, d


def wait_for(check, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def test_revoked_device_is_refused_on_every_endpoint_by_the_running_hub(hub, tmp_path):
    proc, pki, d = hub
    creds = enroll(pki.ca_dir, "gate-rev", tmp_path / "rev")
    s = session(pki, creds.cert, creds.key)
    wait_for(lambda: s.get(f"{proc.url}/v1/time", timeout=30).status_code == 200)
    out = hub_cli("devices", "revoke", "--db", str(d / "hub.sqlite"), "gate-rev", "--reason", "stolen")
    assert out.returncode == 0 and "revoked" in out.stdout
    wait_for(lambda: s.get(f"{proc.url}/v1/time", timeout=30).status_code == 403)
    for method, path in (("GET", "/v1/health"), ("GET", "/v1/trust-list"), ("GET", "/v1/status"),
                         ("POST", "/v1/round"), ("POST", "/v1/visits"), ("GET", "/openapi.json")):
        r = s.request(method, f"{proc.url}{path}", json={}, timeout=30)
        assert r.status_code == 403 and "revoked" in r.json()["detail"], path
    # An import of the CA's registry (which still lists it) does not bring it back.
    assert hub_cli("devices", "import", "--db", str(d / "hub.sqlite"),
                   str(pki.ca_dir / "enrolled.jsonl")).returncode == 0
    listed = [json.loads(x) for x in hub_cli("devices", "list", "--db", str(d / "hub.sqlite")).stdout.splitlines()]
    rev = next(x for x in listed if x["device_id"] == "gate-rev")
    assert (rev["state"], rev["revoked_reason"]) == ("revoked", "stolen")
    assert s.get(f"{proc.url}/v1/time", timeout=30).status_code == 403


def test_placed_device_venue_refusals_and_site_admissions_in_the_round(hub, tmp_path):
    proc, pki, d = hub
    a = enroll(pki.ca_dir, "gate-a", tmp_path / "a")
    b = enroll(pki.ca_dir, "gate-b", tmp_path / "b")
    sa, sb = session(pki, a.cert, a.key), session(pki, b.cert, b.key)
    wait_for(lambda: sb.get(f"{proc.url}/v1/time", timeout=30).status_code == 200)
    for dev in ("gate-a", "gate-b"):
        out = hub_cli("devices", "place", "--db", str(d / "hub.sqlite"), dev, "--site", "metro-l1",
                      "--checkpoint", "gate-1")
        assert out.returncode == 0, out.stderr
    log = new_log_id()
    rows = chain_rows("gate-a", 2)
    rows += chain_rows("gate-a", 1, start_seq=3, prev=rows[-1]["chain"], checkpoint_id="somewhere-else")
    # gate-a's first request: the hub reads its registry entry (with the placement) now.
    ack = upload(sa, proc.url, rows, log).json()
    assert (ack["stored"], len(ack["acked"]), [r["seq"] for r in ack["refused"]]) == (2, 3, [3])
    ack = upload(sa, proc.url, rows, log).json()  # a replay, the refused row included, is a duplicate
    assert (ack["stored"], ack["duplicates"], ack["refused"]) == (0, 3, [])
    expected = {(rows[0]["code_id"], "gate-a"), (rows[1]["code_id"], "gate-a")}

    def site_admissions() -> set[tuple[str, str]]:
        answer = sb.post(f"{proc.url}/v1/round", json={"have": {}, "health": {"pending_uploads": 0}}, timeout=30)
        assert answer.status_code == 200
        return {(x["code_id"], x["device_id"]) for x in answer.json()["admissions"]}

    # gate-b's registry entry was read (unplaced) by its first request; its placement reaches the hub
    # within the registry's cache time.
    wait_for(lambda: site_admissions() == expected)
    assert site_admissions() == expected
    store = HubStore(d / "hub.sqlite", create=False)
    assert [r["reason"] for r in store.refusals("gate-a")] == ["venue 'somewhere-else' is not registered for "
                                                              "this device"]
    last_seen = {x["device_id"]: x["last_seen_ms"] for x in [
        json.loads(y) for y in hub_cli("devices", "list", "--db", str(d / "hub.sqlite")).stdout.splitlines()]}
    assert last_seen["gate-b"] is not None and last_seen["gate-a"] is None
    store.close()

    # Once gate-b says what it has, it is sent only what the hub received since (less a few seconds of
    # overlap): also an admission made an hour ago that gate-a uploads only now.
    def round_since(since: int, site: str = "metro-l1") -> dict:
        answer = sb.post(f"{proc.url}/v1/round", json={"have": {"admissions_since": since, "admissions_site": site}},
                         timeout=30)
        assert answer.status_code == 200
        return answer.json()

    whole = sb.post(f"{proc.url}/v1/round", json={"have": {}}, timeout=30).json()
    until = whole["admissions_until"]
    assert whole["admissions_site"] == "metro-l1"
    assert abs(until / 1000 - time.time()) < 60
    assert {(x["code_id"], x["device_id"]) for x in round_since(until)["admissions"]} <= expected
    assert round_since(until + 3_600_000)["admissions"] == []
    hour_ago = int(time.time() * 1000) - 3_600_000
    late = chain_rows("gate-a", 1, ts_ms=hour_ago, code_id="ab" * 16)
    assert upload(sa, proc.url, late, new_log_id()).json()["stored"] == 1
    wait_for(lambda: any(x["code_id"] == "ab" * 16 for x in round_since(until)["admissions"]))
    sent = [x for x in round_since(until)["admissions"] if x["code_id"] == "ab" * 16]
    assert sent == [{"code_id": "ab" * 16, "ts_ms": hour_ago, "device_id": "gate-a"}]
    assert round_since(int(time.time() * 1000) + 60_000)["admissions"] == []
    # What a device has of another site (it was placed here since) does not count: the whole window.
    moved = round_since(int(time.time() * 1000) + 60_000, site="metro-l9")
    assert {(x["code_id"], x["device_id"]) for x in moved["admissions"]} == expected | {("ab" * 16, "gate-a")}


def test_round_says_which_lists_changed(hub):
    proc, pki, d = hub
    s = session(pki, pki.device_cert, pki.device_key)
    store = HubStore(d / "hub.sqlite")
    store.publish("rules", "", 3, None, '{"rules": 3}')
    store.publish("status", "CN-ZJ", 12, None, "{}")
    store.close()

    def changed() -> dict:
        return s.post(f"{proc.url}/v1/round", json={"have": {"status": {"CN-ZJ": 12}}}, timeout=30).json()["changed"]

    # Published by another process: the hub's rounds see it within their cache window (one second).
    wait_for(lambda: changed()["rules"] is True)
    got = {"changed": changed()}
    assert got["changed"]["rules"] is True and got["changed"]["status"] == []
    etag = s.get(f"{proc.url}/v1/rules", timeout=30).headers["ETag"]
    got = s.post(f"{proc.url}/v1/round", json={"have": {"rules": etag, "status": {"CN-ZJ": 11}}}, timeout=30).json()
    assert got["changed"]["rules"] is False and got["changed"]["status"] == ["CN-ZJ"]
    assert abs(got["time"] - time.time()) < 60


def test_signed_checkpoint_must_verify_with_the_device_certificate(hub, tmp_path):
    proc, pki, _ = hub
    s = session(pki, pki.device_cert, pki.device_key)
    log = new_log_id()
    rows = chain_rows("gate-1", 3)
    good = signed(pki.device_key, "gate-1", log, rows[-1])
    forged = {**good, "signature": sign_checkpoint(generate_key(), checkpoint_message("gate-1", log, 3,
                                                                                     rows[-1]["chain"]))}
    r = upload(s, proc.url, rows, log, forged)
    assert r.status_code == 422 and "does not verify" in r.json()["detail"]
    r = upload(s, proc.url, rows, log, {**good, "seq": 2})
    assert r.status_code == 422 and "does not match" in r.json()["detail"]
    ack = upload(s, proc.url, rows, log, good).json()
    assert (ack["stored"], ack["last_seq"], ack["last_chain"], ack["log_id"]) == (3, 3, rows[-1]["chain"], log)


def test_read_only_commands_refuse_a_missing_database(tmp_path):
    missing = tmp_path / "missing.sqlite"
    for args in (("visits", "--count"), ("logs",), ("devices", "list")):
        out = hub_cli(*args[:1], *(args[1:2] if args[0] == "devices" else ()), "--db", str(missing),
                      *(args[1:] if args[0] != "devices" else ()))
        assert out.returncode == 2 and f"{missing}: no such file" in out.stderr, (args, out.stderr)
    assert not missing.exists()


def test_visits_refuse_a_time_no_date_can_name(tmp_path):
    db = tmp_path / "hub.sqlite"
    assert hub_cli("migrate", "--db", str(db)).returncode == 0
    for option in ("--since", "--until"):
        for when in ("99999999999999999999", "inf", "-1e15"):
            out = hub_cli("visits", "--db", str(db), f"{option}={when}", "--count")
            assert out.returncode == 2 and f"{option} {when!r}: expected" in out.stderr, (option, when, out.stderr)


def test_a_hub_database_path_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "file").write_text("")
    db = tmp_path / "file" / "hub.sqlite"  # its folder cannot be made: a file is in the way
    out = hub_cli("migrate", "--db", str(db))
    assert out.returncode == 2 and f"hub database {db}" in out.stderr and "internal error" not in out.stderr, \
        out.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_names_unusable_tls_files_and_a_taken_port(tmp_path, workers):
    """Before announcing (or forking workers that would fail and be restarted forever), `hub serve` says
    which file or address cannot be used, exit 2."""
    pki = make_pki(tmp_path)
    db = tmp_path / "hub.sqlite"
    tls = ["--cert", str(pki.hub_cert), "--key", str(pki.hub_key), "--device-ca", str(pki.ca)]
    swapped = ["--cert", str(pki.hub_key), "--key", str(pki.hub_cert), "--device-ca", str(pki.ca)]
    out = hub_cli("serve", "--db", str(db), "--port", "0", "--workers", workers, *swapped)
    assert out.returncode == 2 and f"--cert {pki.hub_key}" in out.stderr, out.stderr
    assert "hub listening" not in out.stdout
    out = hub_cli("serve", "--db", str(db), "--port", "0", "--workers", workers, *tls[:4], "--device-ca",
                  str(pki.hub_key))
    assert out.returncode == 2 and f"--device-ca {pki.hub_key}" in out.stderr, out.stderr
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        out = hub_cli("serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port), "--workers", workers,
                      *tls)
    assert out.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in out.stderr, out.stderr


@pytest.mark.parametrize("days", ["0", "-5", "99999999999"])
def test_retain_refuses_a_number_of_days_that_keeps_or_removes_nothing_sensible(tmp_path, days):
    db = tmp_path / "hub.sqlite"
    assert hub_cli("migrate", "--db", str(db)).returncode == 0
    out = hub_cli("retain", "--db", str(db), f"--days={days}")
    assert out.returncode == 2 and "--days" in out.stderr and "internal error" not in out.stderr, out.stderr
    pki = make_pki(tmp_path)
    out = hub_cli("serve", "--db", str(db), "--port", "0", "--cert", str(pki.hub_cert), "--key", str(pki.hub_key),
                  "--device-ca", str(pki.ca), f"--retention-days={'-1' if days == '0' else days}")
    assert out.returncode == 2 and "--retention-days" in out.stderr, out.stderr


@pytest.mark.parametrize("option", ["--port=99999", "--port=-1", "--max-clock-ahead=-5", "--max-clock-ahead=nan",
                                    "--admissions-window=-1", "--list-cache=nan", "--pool-size=0", "--workers=0"])
def test_serve_refuses_numbers_out_of_range_before_listening(tmp_path, option):
    """A negative --max-clock-ahead would refuse every visit; NaN and out-of-range ports were internal errors."""
    pki = make_pki(tmp_path)
    out = hub_cli("serve", "--db", str(tmp_path / "hub.sqlite"), "--cert", str(pki.hub_cert), "--key",
                  str(pki.hub_key), "--device-ca", str(pki.ca), option)
    name = option.partition("=")[0]
    assert out.returncode == 2 and name in out.stderr and "internal error" not in out.stderr, out.stderr
    assert "hub listening" not in out.stdout


def test_a_broken_line_in_the_watched_enrolment_file_refuses_no_device(tmp_path):
    """The file may be caught half-written (the CA appending) or mistyped by hand: the registry in the
    database keeps serving, the good lines still come in, and devices never see the hub's file path."""
    pki = make_pki(tmp_path / "pki", "gate-r1")
    registry_file = pki.ca_dir / "enrolled.jsonl"
    with HubProcess(tmp_path / "hub.sqlite", pki) as hub:
        s = session(pki, pki.device_cert, pki.device_key)
        assert s.get(f"{hub.url}/v1/time", timeout=30).status_code == 200
        late = enroll(pki.ca_dir, "gate-r2", tmp_path / "r2")
        lines = registry_file.read_text().splitlines()
        registry_file.write_text("\n".join([lines[0], '{"device_id": "gate-r3", "ser', lines[1]]) + "\n")
        time.sleep(1.1)  # past the registry's cache
        for cert, key in ((pki.device_cert, pki.device_key), (late.cert, late.key)):
            r = session(pki, cert, key).get(f"{hub.url}/v1/time", timeout=30)
            assert r.status_code == 200, r.text
        err = hub.stop()
    assert "enrolled.jsonl:2: not an enrolment line" in err and "Traceback" not in err, err[-2000:]


def test_importing_a_file_that_cannot_be_read_is_named(tmp_path):
    db = str(tmp_path / "hub.sqlite")
    HubStore(db).close()
    for path in (tmp_path, tmp_path / "missing.jsonl"):
        out = hub_cli("devices", "import", "--db", db, str(path))
        assert out.returncode == 2 and str(path) in out.stderr and "internal error" not in out.stderr, out.stderr


def _rename_table(db: str, old: str, new: str) -> None:
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE {old} RENAME TO {new}")
    else:
        import sqlite3

        conn = sqlite3.connect(db)
        conn.execute(f"ALTER TABLE {old} RENAME TO {new}")
        conn.commit()
        conn.close()


def test_a_registry_the_database_cannot_read_is_the_hub_unavailable_not_a_server_error(hub_db, tmp_path):
    pki = make_pki(tmp_path / "pki", "gate-r5")
    with HubProcess(hub_db, pki) as hub:
        s = session(pki, pki.device_cert, pki.device_key)
        _rename_table(hub_db, "device_certs", "device_certs_away")
        for path in ("/v1/time", "/v1/round"):
            r = s.request("POST" if path == "/v1/round" else "GET", f"{hub.url}{path}", json={}, timeout=30)
            assert r.status_code == 503 and "hub database unavailable" in r.text, (path, r.status_code, r.text)
            assert r.headers.get("Retry-After") == "5"
        _rename_table(hub_db, "device_certs_away", "device_certs")
        assert s.get(f"{hub.url}/v1/time", timeout=30).status_code == 200
        err = hub.stop()
    assert "Traceback" not in err, err[-2000:]
