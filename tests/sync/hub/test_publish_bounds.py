"""Publishing refuses what no device accepts and no hub database holds: versions outside 0..2^63-1, a status
list issuer holding a NUL. The hub does not check signatures (devices do), so any JWS-shaped file gets this
far; it must be named and refused (exit 2 on the command line, 422 on the operator page), on both back ends."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from sync.hub.store import DCC_REVOCATION_KIND, HubStore
from tests.helpers.faultproxy import ROOT, HubProcess, make_pki
from tests.helpers.operator import csrf_of, logged_in, write_operator_config


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jws(payload: dict[str, object]) -> str:
    """A JWS-shaped document (its signature is for devices to refuse, not the hub)."""
    return json.dumps({"protected": _b64(json.dumps({"alg": "ES256", "kid": "CTwKbxucabo"}).encode()),
                       "payload": _b64(json.dumps(payload).encode()), "signature": _b64(b"s" * 64)})


CASES = [
    ("trust-list", {"type": "hc-trustlist", "version": 2**64}, "version"),
    ("trust-list", {"type": "hc-trustlist", "version": -5}, "version"),
    ("rules-list", {"type": "hc-ruleslist", "version": 2**63}, "version"),
    ("status-list", {"type": "hc-statuslist", "version": 3, "issuer": "CN\u0000X"}, "issuer"),
    ("status-list", {"type": "hc-statuslist", "version": 3, "issuer": "CN", "base": 2**70}, "base"),
    ("dcc-revocation", {"type": "hc-dccrevocation", "version": 2**63, "hashes": []}, "version"),
    ("profiles", {"version": 2**64, "profiles": {}}, "version"),
]


@pytest.mark.parametrize(("kind", "payload", "named"), CASES)
def test_the_command_names_what_no_device_accepts(hub_db, tmp_path, kind, payload, named):
    doc = tmp_path / ("profiles.json" if kind == "profiles" else "list.json")
    doc.write_text(json.dumps(payload) if kind == "profiles" else _jws(payload))
    HubStore(hub_db).close()
    out = subprocess.run([sys.executable, "-m", "sync.hub", f"publish-{kind}", "--db", str(hub_db), str(doc)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert named in out.stderr and "internal error" not in out.stderr, out.stderr
    store = HubStore(hub_db, create=False)
    try:
        assert all(store.latest(k) is None for k in ("trust", "rules", "profiles", DCC_REVOCATION_KIND))
        assert store.status_issuers() == {}
    finally:
        store.close()


def test_the_operator_page_names_it_too(hub_db, tmp_path):
    pki = make_pki(tmp_path / "pki", "gate-p1")
    with HubProcess(hub_db, pki, operator_config=write_operator_config(tmp_path / "operators.toml")) as hub:
        base = str(hub.operator_url)
        s = logged_in(base)
        for kind, payload, named in CASES:
            token = csrf_of(s.get(f"{base}/publish", timeout=30).text)
            name, body = ("p.json", json.dumps(payload)) if kind == "profiles" else ("list.json", _jws(payload))
            r = s.post(f"{base}/publish/{kind}", data={"csrf": token}, files={"file": (name, body.encode())},
                       timeout=30)
            assert r.status_code == 422 and named in r.text, (kind, r.status_code, r.text[-600:])
        err = hub.stop()
    assert "Traceback" not in err, err[-2000:]
