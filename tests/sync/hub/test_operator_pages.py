"""The operator listener of a real hub process (127.0.0.1): login, CSRF, the fleet pages, publishing, /metrics."""

from __future__ import annotations

import base64
import gzip
import json
import time

import pytest
import requests

from keys.dccrevocation import sign_dcc_revocation
from keys.deviceca import enroll
from keys.keyfile import generate_key
from keys.publishing import KeyEntry, sign_trust_list
from scanner.storage.chain import new_visit_id
from scanner.storage.visitlog import VisitLog, VisitRecord
from tests.helpers.faultproxy import HubProcess, make_pki
from tests.helpers.operator import OPERATOR, PASSWORD, csrf_of, logged_in, write_operator_config

TOKEN = "metrics-token-0123456789"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    d = tmp_path_factory.mktemp("ophub")
    pki = make_pki(d, "gate-7")
    config = write_operator_config(d / "operators.toml", metrics_token=TOKEN)
    enroll(pki.ca_dir, "gate-8", d / "gate-8-tls")  # registered, never reports
    with HubProcess(d / "hub.sqlite", pki, operator_config=config) as proc:
        yield proc, pki, d


def device(pki) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = str(pki.ca)
    s.cert = (str(pki.device_cert), str(pki.device_key))
    return s


def anonymous() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def test_nothing_is_shown_without_login(hub):
    proc, _, _ = hub
    s = anonymous()
    for path in ("/", "/traffic", "/visits?device=gate-7", "/publish", "/devices/gate-7"):
        r = s.get(proc.operator_url + path, allow_redirects=False, timeout=30)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    r = s.post(proc.operator_url + "/publish/trust-list", files={"file": ("t.json", b"{}")},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303
    assert s.get(proc.operator_url + "/metrics", timeout=30).status_code == 401
    assert s.get(proc.operator_url + "/metrics", headers={"Authorization": "Bearer wrong"},
                 timeout=30).status_code == 401


def test_wrong_password_and_missing_csrf_are_refused(hub):
    proc, _, _ = hub
    s = anonymous()
    page = s.get(proc.operator_url + "/login", timeout=30)
    set_cookie = page.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    assert "default-src 'none'" in page.headers["content-security-policy"]
    token = csrf_of(page.text)
    r = s.post(proc.operator_url + "/login", data={"name": OPERATOR, "password": "nope", "csrf": token}, timeout=30)
    assert r.status_code == 401 and "Wrong name or password" in r.text and "cp_session" not in s.cookies
    r = s.post(proc.operator_url + "/login", data={"name": OPERATOR, "password": PASSWORD}, timeout=30)
    assert r.status_code == 403 and "CSRF" in r.text and "cp_session" not in s.cookies
    r = s.post(proc.operator_url + "/login", data={"name": OPERATOR, "csrf": token}, timeout=30)
    assert r.status_code == 422 and "missing or invalid: password" in r.text
    other = anonymous()
    r = other.post(proc.operator_url + "/login", data={"name": OPERATOR, "password": PASSWORD, "csrf": token},
                   timeout=30)
    assert r.status_code == 403 and "cp_session" not in other.cookies
    # A logged-in operator's form without the token does nothing either.
    s = logged_in(proc.operator_url)
    r = s.post(proc.operator_url + "/logout", data={}, allow_redirects=False, timeout=30)
    assert r.status_code == 403 and s.get(proc.operator_url + "/", timeout=30).url.endswith("/")
    r = s.post(proc.operator_url + "/logout", data={"csrf": csrf_of(s.get(proc.operator_url + "/").text)},
               timeout=30)
    assert r.url.endswith("/login") and s.get(proc.operator_url + "/", timeout=30).url.endswith("/login")



def test_tokens_that_are_not_ascii_are_refused_not_a_server_error(hub):
    """A cookie, form token or bearer token holding a non-ASCII character is wrong, like any other."""
    proc, _, _ = hub
    base = proc.operator_url
    body = base64.urlsafe_b64encode(json.dumps({"u": OPERATOR, "exp": int(time.time()) + 600, "n": "x"}).encode())
    forged = body.rstrip(b"=").decode() + ".\u00e9t\u00e9"
    s = anonymous()
    r = s.get(base + "/", headers={"Cookie": f"cp_session={forged}".encode("latin-1")}, allow_redirects=False,
              timeout=30)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = s.get(base + "/metrics", headers={"Authorization": "Bearer \u00e9t\u00e9".encode("latin-1")}, timeout=30)
    assert r.status_code == 401
    token = csrf_of(s.get(base + "/login", timeout=30).text)
    r = s.post(base + "/login", data={"name": OPERATOR, "password": PASSWORD, "csrf": "\u00e9" + token[1:]},
               timeout=30)
    assert r.status_code == 403 and "cp_session" not in s.cookies
    s = logged_in(base)
    r = s.post(base + "/logout", data={"csrf": "\u00e9t\u00e9"}, allow_redirects=False, timeout=30)
    assert r.status_code == 403 and s.get(base + "/", timeout=30).url.endswith("/")


def _visits(tmp_path, n):
    with VisitLog(tmp_path / "visits-gate-7.sqlite") as log:
        for i in range(n):
            now = time.time()
            log.append(VisitRecord(visit_id=new_visit_id(now), ts_ms=int(now * 1000), device_id="gate-7",
                                   checkpoint_id="east-7", profile="transport", clock_trusted=True,
                                   verdict="ok" if i % 4 else "revoked", admit=bool(i % 4),
                                   tone="pass" if i % 4 else "check", latency_ms=3, extra={}))
        return log.pending(n)


def test_fleet_pages_show_health_traffic_and_gaps(hub, tmp_path):
    proc, pki, _ = hub
    dev = device(pki)
    health = {"software_version": "2.1.0", "camera": {"state": "disconnected", "fps": 0.0},
              "pending_uploads": 3, "site": "Metro L7 East", "checkpoint_id": "east-7",
              "trust_list": {"version": 4, "age": 100.0}, "clock_offset": 0.4, "storage_alarm": False}
    r = dev.post(f"{proc.url}/v1/round", json={"have": {}, "health": health}, timeout=30)
    assert r.status_code == 200 and set(r.json()) == {"time", "changed", "admissions", "admissions_until",
                                                         "admissions_site"}
    rows = _visits(tmp_path, 12)
    kept = [x for x in rows if x["seq"] not in (5, 6, 7)]
    body = gzip.compress(json.dumps({"visits": kept}).encode())
    r = dev.post(f"{proc.url}/v1/visits", data=body, timeout=30,
                 headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["stored"] == 9
    assert dev.post(f"{proc.url}/v1/visits", data=b"{", timeout=30,
                    headers={"Content-Type": "application/json"}).status_code == 422

    s = logged_in(proc.operator_url)
    page = s.get(proc.operator_url + "/", timeout=30).text
    assert "gate-7" in page and "Metro L7 East" in page and "camera disconnected" in page and "2.1.0" in page
    assert 'id="device-gate-8"' in page and "never reported" in page
    assert "gate-7" in s.get(proc.operator_url + "/?attention=1", timeout=30).text
    found = s.get(proc.operator_url + "/", params={"q": "l7 EAST"}, timeout=30).text
    assert 'id="device-gate-7"' in found and 'id="device-gate-8"' not in found and "Devices 1–1 of 1 matching" in found
    found = s.get(proc.operator_url + "/", params={"state": "offline"}, timeout=30).text
    assert 'id="device-gate-8"' in found and 'id="device-gate-7"' not in found
    assert "No device matches." in s.get(proc.operator_url + "/", params={"q": "nowhere"}, timeout=30).text
    past = s.get(proc.operator_url + "/", params={"page": 9}, timeout=30).text
    assert "past the last page" in past and 'id="prev-page"' in past
    bad = s.get(proc.operator_url + "/", params={"state": "asleep"}, timeout=30)
    assert bad.status_code == 422 and "unknown device state" in bad.text
    detail = s.get(proc.operator_url + "/devices/gate-7", timeout=30).text
    assert "disconnected" in detail and "History" in detail
    assert s.get(proc.operator_url + "/devices/nobody", timeout=30).status_code == 404

    traffic = s.get(proc.operator_url + "/traffic", timeout=30).text
    assert "Metro L7 East" in traffic and "<svg" in traffic

    held = kept
    admitted = sum(1 for x in held if x["admit"])
    assert f"{admitted} admitted, {len(held) - admitted} refused" in traffic

    found = s.get(proc.operator_url + "/visits", params={"device": "gate-7"}, timeout=30).text
    assert "9 visits" in found and "Missing from the hub: seq 5–7" in found and "missing seq 5–7 (3 visits)" in found
    bad = s.get(proc.operator_url + "/visits", params={"device": "gate-7", "since": "yesterday"}, timeout=30)
    assert bad.status_code == 400 and "not a time" in bad.text

    metrics = s.get(proc.operator_url + "/metrics", timeout=30).text
    assert anonymous().get(proc.operator_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                           timeout=30).status_code == 200
    assert "checkpoint_hub_uploads_total 1.0" in metrics
    assert "checkpoint_hub_visits_ingested_total 9.0" in metrics
    assert 'checkpoint_hub_uploads_refused_total{reason="invalid_batch"} 1.0' in metrics
    assert 'checkpoint_hub_devices{state="attention"} 1.0' in metrics
    assert 'checkpoint_hub_devices{state="offline"} 1.0' in metrics
    assert 'checkpoint_hub_request_seconds_count{route="/v1/round",status="200"} 1.0' in metrics



@pytest.mark.parametrize("when", ["99999999999999999999", "-99999999999999", "inf", "nan", "1e400", "10000-01-01"])
def test_a_time_no_date_can_name_is_refused_with_a_clear_answer(hub, when):
    proc, _, _ = hub
    s = logged_in(proc.operator_url)
    for field in ("since", "until"):
        r = s.get(proc.operator_url + "/visits", params={"device": "gate-7", field: when}, timeout=30)
        assert r.status_code == 400 and "not a time" in r.text, (field, r.status_code)


def test_publishing_from_the_page_uses_the_cli_checks(hub, tmp_path):
    proc, _, _ = hub
    s = logged_in(proc.operator_url)
    token = csrf_of(s.get(proc.operator_url + "/publish", timeout=30).text)
    root, signer = generate_key(), generate_key()
    now = int(time.time())
    tl = json.dumps(sign_trust_list(root, [KeyEntry(signer.public_key(), "CN-ZJ", "浙江", "Zhejiang")], version=9,
                                    issued_at=now, next_update=now + 3600))
    r = s.post(proc.operator_url + "/publish/trust-list", files={"file": ("tl.json", tl)}, timeout=30)
    assert r.status_code == 403
    r = s.post(proc.operator_url + "/publish/trust-list", data={"csrf": token}, files={"file": ("tl.json", tl)},
               timeout=30)
    assert r.status_code == 200 and "published trust list version 9 from tl.json" in r.text
    assert "trust list v9" in r.text
    r = s.post(proc.operator_url + "/publish/status-list", data={"csrf": token},
               files={"file": ("junk.json", b"not a jws")}, timeout=30)
    assert r.status_code == 422 and "junk.json: not a signed JWS document" in r.text and "/tmp" not in r.text
    r = s.post(proc.operator_url + "/publish/profiles", data={"csrf": token},
               files={"file": ("p.toml", b'version = 3\n[profiles.transport]\nnot_a_key = 1\n')}, timeout=30)
    assert r.status_code == 422 and "p.toml" in r.text and "not_a_key" in r.text
    r = s.post(proc.operator_url + "/publish/profiles", data={"csrf": token},
               files={"file": ("p.toml", b'version = 3\n[profiles.transport]\n')}, timeout=30)
    assert r.status_code == 200 and "published venue profiles version 3" in r.text
    revocation = json.dumps(sign_dcc_revocation(root, [("UCI", bytes(16))], version=4, issued_at=now,
                                                next_update=now + 3600))
    r = s.post(proc.operator_url + "/publish/dcc-revocation", data={"csrf": token},
               files={"file": ("revoked.json", revocation)}, timeout=30)
    assert r.status_code == 200 and "published DCC revocation list version 4 from revoked.json" in r.text
    assert "DCC revocation list v4" in r.text
    r = s.post(proc.operator_url + "/publish/dcc-revocation", data={"csrf": token},
               files={"file": ("tl.json", tl)}, timeout=30)
    assert r.status_code == 422 and "tl.json: payload type is not" in r.text


def test_operator_listener_beyond_loopback_needs_tls(tmp_path):
    import subprocess
    import sys

    from tests.helpers.faultproxy import ROOT

    pki = make_pki(tmp_path, "gate-9")
    config = write_operator_config(tmp_path / "operators.toml")
    base = [sys.executable, "-m", "sync.hub", "serve", "--db", str(tmp_path / "hub.sqlite"), "--port", "0",
            "--cert", str(pki.hub_cert), "--key", str(pki.hub_key), "--device-ca", str(pki.ca)]
    for extra, words in ((["--operator-listen", "0.0.0.0:8080", "--operator-config", str(config)],
                          "plain HTTP only on a loopback address"),
                         (["--operator-listen", "127.0.0.1:8080"], "needs --operator-config"),
                         (["--operator-listen", "nonsense", "--operator-config", str(config)], "expected HOST:PORT"),
                         (["--operator-listen", "127.0.0.1:8\u00b2", "--operator-config", str(config)],
                          "expected HOST:PORT"),
                         (["--operator-listen", "127.0.0.1:0", "--operator-config", str(tmp_path / "none.toml")],
                          "none.toml: cannot read")):
        out = subprocess.run([*base, *extra], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and words in out.stderr, (extra, out.stderr)
    # With TLS: https, and the session cookie is Secure.
    with HubProcess(tmp_path / "hub.sqlite", pki, operator_config=config,
                    extra=("--operator-cert", str(pki.hub_cert), "--operator-key", str(pki.hub_key))) as hub:
        assert hub.operator_url and hub.operator_url.startswith("https://")
        s = anonymous()
        s.verify = str(pki.ca)
        page = s.get(hub.operator_url + "/login", timeout=30)
        token = csrf_of(page.text)
        r = s.post(hub.operator_url + "/login", data={"name": OPERATOR, "password": PASSWORD, "csrf": token},
                   allow_redirects=False, timeout=30)
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()


def test_the_visit_search_offers_a_bounded_list_of_device_ids(tmp_path):
    """A province's fleet must not make every visits page carry every device id (20,000 ids are 540 KB)."""
    from sync.hub.devicehealth import record_many
    from sync.hub.operator.queries import OFFERED_DEVICES
    from sync.hub.store import HubStore

    pki = make_pki(tmp_path / "pki", "gate-v1")
    db = tmp_path / "hub.sqlite"
    store = HubStore(db)
    now_ms = int(time.time() * 1000)
    record_many(store, {f"gate-{i:05d}": (now_ms, {"software_version": "1"}) for i in range(OFFERED_DEVICES + 200)})
    store.close()
    with HubProcess(db, pki, operator_config=write_operator_config(tmp_path / "operators.toml")) as proc:
        page = logged_in(proc.operator_url).get(proc.operator_url + "/visits", timeout=30).text
    assert page.count("<option value=") == OFFERED_DEVICES
    assert f"first {OFFERED_DEVICES} of {OFFERED_DEVICES + 200}" in page


_HEAD = b'--b\r\nContent-Disposition: form-data; name="file"; filename="t.json"\r\n\r\n'
_TAIL = b"\r\n--b--\r\n"


class _Multipart:
    """A well-formed multipart body with a file of `mib` MiB, streamed (its length declared), counting in
    `sent` what was read from it."""

    def __init__(self, mib: int, sent: list[int]):
        self.parts = (_HEAD, *([b"x" * (1024 * 1024)] * mib), _TAIL)
        self.sent = sent

    def __len__(self) -> int:
        return sum(map(len, self.parts))

    def __iter__(self):
        for part in self.parts:
            self.sent[0] += len(part)
            yield part


def test_a_post_is_judged_before_its_body_is_read(hub):
    """Nobody without a session, and no body over the publish limit, gets the hub to spool an upload to disk."""
    proc, _, _ = hub
    MiB = 1024 * 1024
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    for session in (anonymous(), logged_in(proc.operator_url)):
        sent = [0]
        try:
            r = session.post(proc.operator_url + "/publish/trust-list", data=_Multipart(256, sent), headers=headers,
                             allow_redirects=False, timeout=60)
            assert r.status_code in (303, 413), (r.status_code, r.text[-300:], sent[0])
        except requests.ConnectionError:
            pass  # the hub answered and closed while the body was still coming: also a refusal
        assert sent[0] < 64 * MiB, f"the hub read {sent[0] // MiB} MiB"
    # Within the limit too, a form from nobody logged in is sent to the login before its body is read.
    sent = [0]
    try:
        r = anonymous().post(proc.operator_url + "/publish/trust-list", data=_Multipart(48, sent), headers=headers,
                             allow_redirects=False, timeout=60)
        assert r.status_code == 303 and r.headers["location"] == "/login"
    except requests.ConnectionError:
        pass
    assert sent[0] < 40 * MiB, f"the hub read {sent[0] // MiB} MiB of an anonymous form"
    # The login form, the one anybody may send, is held to a login form's size.
    sent = [0]
    try:
        r = anonymous().post(proc.operator_url + "/login", data=_Multipart(8, sent), headers=headers, timeout=60)
        assert r.status_code == 413 and "a login form larger than 32 KiB" in r.text
    except requests.ConnectionError:
        pass
    assert sent[0] < 8 * MiB, f"the hub read {sent[0] // MiB} MiB of a login form"
    # Without a declared length a POST is refused before its body too.
    sent = [0]
    body = (part for part in _Multipart(256, sent))  # a generator: sent chunked, no length
    try:
        r = logged_in(proc.operator_url).post(proc.operator_url + "/publish/trust-list", data=body, headers=headers,
                                              timeout=60)
        assert r.status_code == 411
    except requests.ConnectionError:
        pass
    assert sent[0] < 64 * MiB, f"the hub read {sent[0] // MiB} MiB"
    # A publication within the limit still goes through to its checks.
    s = logged_in(proc.operator_url)
    token = csrf_of(s.get(proc.operator_url + "/publish", timeout=30).text)
    r = s.post(proc.operator_url + "/publish/trust-list", data={"csrf": token}, files={"file": ("t.json", b"{}")},
               timeout=30)
    assert r.status_code == 422 and "not a signed JWS document" in r.text


def test_the_visit_search_tells_refused_rows_from_missing_ones(hub):
    """Rows the hub refused (kept with their reason) are not "missing from the hub", as `hub logs` says too;
    only sequence numbers the hub holds nothing of are."""
    from tests.helpers.hubrows import chain_rows, new_log_id

    proc, pki, _ = hub
    start = (int(time.time()) // 3600 - 50) * 3600 * 1000  # an hour two days back, all to this test
    rows = chain_rows("gate-7", 5, ts_ms=start)
    rows += chain_rows("gate-7", 3, start_seq=6, prev=rows[-1]["chain"], ts_ms=start + 5, verdict="bogus")
    rows += chain_rows("gate-7", 6, start_seq=9, prev=rows[-1]["chain"], ts_ms=start + 8)
    sent = [r for r in rows if r["seq"] not in (11, 12)]
    r = device(pki).post(f"{proc.url}/v1/visits", json={"log_id": new_log_id(), "visits": sent}, timeout=30)
    assert r.status_code == 200 and r.json()["stored"] == 9 and len(r.json()["refused"]) == 3
    s = logged_in(proc.operator_url)
    page = s.get(proc.operator_url + "/visits", timeout=30, params={
        "device": "gate-7", "since": str(start // 1000), "until": str(start // 1000 + 3600)}).text
    assert "9 visits" in page
    assert "Missing from the hub: seq 11–12" in page and "missing seq 11–12 (2 visits)" in page
    assert "6–8" not in page.split('id="gaps"')[1].split("</p>")[0]
    assert "Refused by the hub" in page and "refused seq 6–8 (3 visits): verdict &#39;bogus&#39; does not exist" in page


def test_visits_recovered_from_a_damaged_log_are_marked(hub):
    """A batch the device salvaged from its damaged log is stored like any other, and its rows say where
    they came from."""
    from tests.helpers.hubrows import chain_rows, new_log_id

    proc, pki, _ = hub
    start = (int(time.time()) // 3600 - 52) * 3600 * 1000  # an hour of its own, as above
    r = device(pki).post(f"{proc.url}/v1/visits", timeout=30, json={
        "log_id": new_log_id(), "visits": chain_rows("gate-7", 4, ts_ms=start), "recovered": True})
    assert r.status_code == 200 and r.json()["stored"] == 4
    r = device(pki).post(f"{proc.url}/v1/visits", timeout=30, json={
        "log_id": new_log_id(), "visits": chain_rows("gate-7", 2, ts_ms=start + 60_000)})
    assert r.status_code == 200 and r.json()["stored"] == 2
    page = logged_in(proc.operator_url).get(proc.operator_url + "/visits", timeout=30, params={
        "device": "gate-7", "since": str(start // 1000), "until": str(start // 1000 + 3600)}).text
    assert "6 visits" in page and page.count("(recovered from a damaged log)") == 4


def test_a_flood_of_wrong_logins_keeps_the_hub_process_small(hub):
    """Each password check is an scrypt of 16 MiB: 40 at once would take the process serving devices from 70
    to 670 MB. Checks run one at a time; the flood waits, the process's memory does not grow with it. Each
    guesser speaks from its own address (X-Forwarded-For from 127.0.0.1), under the per-address limit of
    failed logins, so every guess is checked."""
    import threading

    from bench.hub_limits import rss_mb

    proc, pki, _ = hub
    base = proc.operator_url
    before = rss_mb(proc.proc.pid)
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(proc.proc.pid))
            done.wait(0.02)

    def guess(address: str) -> None:
        s = anonymous()
        s.headers["X-Forwarded-For"] = address
        for _ in range(2):
            token = csrf_of(s.get(base + "/login", timeout=60).text)
            r = s.post(base + "/login", data={"name": OPERATOR, "password": "not the password", "csrf": token},
                       timeout=120)
            assert r.status_code == 401

    watcher = threading.Thread(target=watch)
    watcher.start()
    guessers = [threading.Thread(target=guess, args=(f"192.0.2.{i + 1}",)) for i in range(30)]
    for t in guessers:
        t.start()
    # Devices are served meanwhile.
    assert device(pki).get(f"{proc.url}/v1/time", timeout=60).status_code == 200
    for t in guessers:
        t.join()
    done.set()
    watcher.join()
    assert peak[0] - before < 120, f"RSS {before:.0f} -> {peak[0]:.0f} MB"
    assert logged_in(base).get(base + "/", timeout=30).status_code == 200
