"""The fleet pages in a real headless Chromium (selenium + Debian's chromedriver) against a real hub process.

A real sync agent reports to the hub; the operator logs in, sees the device online, the agent stops, and
the page shows it offline. A second device (its requests made here with its own certificate) reports a
broken camera and uploads visits with a hole in the sequence. Wrong passwords and forged forms are refused.

Each page is photographed; with CHECKPOINT_SCREENSHOTS=1 (`scripts/hub-screenshots`) the pictures are written
to docs/screenshots/hub-*.png, otherwise to the test's temporary directory.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from keys.deviceca import enroll
from keys.keyfile import load_public_key
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.checker import Checker
from scanner.clock import FixedClock
from scanner.demo.world import build_demo_world
from scanner.policy import load_profile
from scanner.storage.chain import new_visit_id
from scanner.storage.visitlog import VisitLog, VisitRecord
from tests.helpers.cli import checkpoint
from tests.helpers.faultproxy import ROOT, HubProcess, make_pki
from tests.helpers.operator import OPERATOR, PASSWORD, Browser, write_operator_config


@pytest.fixture(autouse=True)
def _chromedriver() -> None:
    # scripts/setup.sh installs Debian's chromium and chromium-driver: without them this is a broken set-up,
    # not a reason to pass quietly.
    if not Path("/usr/bin/chromedriver").exists():
        pytest.fail("/usr/bin/chromedriver is missing: run scripts/setup.sh (Debian chromium-driver)", pytrace=False)


OFFLINE_AFTER = 8



def shots_dir(tmp_path: Path) -> Path:
    if os.environ.get("CHECKPOINT_SCREENSHOTS") == "1":
        return ROOT / "docs" / "screenshots"
    return tmp_path / "screenshots"


def device_log(world, data: Path, device_id: str, n: int) -> None:
    """A visit log with `n` decisions spread over the last few hours, as the kiosk would have written."""
    trust = TrustStore.from_file(world.trust_list_path, [load_public_key(world.anchor_path)])
    checker = Checker(trust, StatusStore.open(":memory:"), load_profile("transport"), clock=FixedClock(world.now))
    decisions = [checker.check(s.payload) for s in world.samples.values()]
    with VisitLog(data / "visits.sqlite") as log:
        for i in range(n):
            log.append(VisitRecord.from_decision(decisions[i % len(decisions)], device_id=device_id,
                                                 checkpoint_id="east-1", clock_trusted=True, latency_ms=4,
                                                 at=world.now - 6 * 3600 + i * (6 * 3600 / n)))


def second_device(hub: HubProcess, pki, tmp_path: Path) -> Callable[[], None]:
    """gate-2: a broken camera and a storage alarm, and visits with seq 6-9 missing; returns its round."""
    dev = enroll(pki.ca_dir, "gate-2", tmp_path / "gate-2-tls")
    s = requests.Session()
    s.trust_env = False
    s.verify, s.cert = str(pki.ca), (str(dev.cert), str(dev.key))
    health = {"software_version": "1.3.2", "site": "Metro L1 West", "checkpoint_id": "west-2",
              "camera": {"state": "disconnected", "fps": 0.0}, "storage_alarm": True, "pending_uploads": 2400,
              "visit_log_bytes": 900 * 1024 * 1024, "trust_list": {"version": 1, "age": 4000.0},
              "clock_trusted": True, "clock_offset": 42.0}

    def report() -> None:
        assert s.post(f"{hub.url}/v1/round", json={"have": {}, "health": health}, timeout=30).status_code == 200

    report()
    with VisitLog(tmp_path / "gate-2.sqlite") as log:
        now = time.time()
        for i in range(20):
            t = now - 3 * 3600 + i * 500
            log.append(VisitRecord(visit_id=new_visit_id(t), ts_ms=int(t * 1000), device_id="gate-2",
                                   checkpoint_id="west-2", profile="transport", clock_trusted=True,
                                   verdict="ok" if i % 5 else "revoked", admit=bool(i % 5),
                                   tone="pass" if i % 5 else "stop", latency_ms=5))
        rows = [r for r in log.pending(20) if not 6 <= r["seq"] <= 9]
    r = s.post(f"{hub.url}/v1/visits", data=gzip.compress(json.dumps({"visits": rows}).encode()), timeout=30,
               headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["stored"] == 16
    return report


def test_fleet_pages_in_headless_chromium(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    world = build_demo_world(tmp_path / "world", int(time.time()))
    pki = make_pki(tmp_path / "pki", "gate-1")
    data = tmp_path / "device"
    device_log(world, data, "gate-1", 240)
    db = tmp_path / "hub.sqlite"
    assert checkpoint("hub", "publish-trust-list", "--db", str(db), str(world.trust_list_path)).returncode == 0
    for p in world.status_list_paths:
        assert checkpoint("hub", "publish-status-list", "--db", str(db), str(p)).returncode == 0
    operators = write_operator_config(tmp_path / "operators.toml")
    enroll(pki.ca_dir, "gate-3", tmp_path / "gate-3-tls")  # registered, never switched on
    shots = shots_dir(tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    with HubProcess(db, pki, operator_config=operators,
                    extra=("--offline-after", str(OFFLINE_AFTER))) as hub, Browser() as b:
        assert hub.operator_url
        config = tmp_path / "checkpoint.toml"
        config.write_text(f"""
[device]
id = "gate-1"
checkpoint_id = "east-1"
checkpoint_name = "Metro L1 East"
data_dir = "{data}"

[trust]
anchors = ["{world.anchor_path}"]

{pki.hub_toml(hub.url)}
[sync]
interval = 1
timeout = 30
""")
        agent = subprocess.Popen([sys.executable, "-m", "scanner.cli", "sync", "--config", str(config)], cwd=ROOT,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            gate2_round = second_device(hub, pki, tmp_path)
            d = b.driver
            wait = WebDriverWait(d, 60, poll_frequency=0.5)
            base = hub.operator_url

            def after_submit(element_id: str) -> str:
                # A click submits the form; the next page arrives in its own time.
                return wait.until(lambda _: d.find_elements(By.ID, element_id))[0].text

            # Not logged in: every page leads to the login form. A wrong password is refused.
            d.get(base + "/")
            assert d.current_url == base + "/login"
            d.find_element(By.ID, "name").send_keys(OPERATOR)
            d.find_element(By.ID, "password").send_keys("not the password")
            d.find_element(By.ID, "login").click()
            assert "Wrong name or password" in after_submit("login-failed")
            d.save_screenshot(str(shots / "hub-login.png"))
            d.find_element(By.ID, "name").send_keys(OPERATOR)
            d.find_element(By.ID, "password").send_keys(PASSWORD)
            d.find_element(By.ID, "login").click()
            after_submit("devices")
            assert d.current_url == base + "/"
            cookie = d.get_cookie("cp_session")
            assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"

            def state_of(device_id: str) -> str:
                d.refresh()
                return d.find_element(By.CSS_SELECTOR, f"#device-{device_id} .state").text

            # The agent's rounds show the device online with nothing wrong (lists fetched, no backlog).
            wait.until(lambda _: state_of("gate-1") == "ok")
            row = d.find_element(By.ID, "device-gate-1").text
            assert "Metro L1 East" in row and "trust v1" in row
            gate2_round()
            assert state_of("gate-2") == "attention"
            assert "camera disconnected" in d.find_element(By.ID, "device-gate-2").text
            assert state_of("gate-3") == "offline"
            assert "never reported" in d.find_element(By.ID, "device-gate-3").text
            d.save_screenshot(str(shots / "hub-devices.png"))
            gate2_round()
            d.get(base + "/?attention=1")
            ids = [e.get_attribute("id") for e in d.find_elements(By.CSS_SELECTOR, "#devices tr[id]")]
            assert ids == ["device-gate-3", "device-gate-2"]

            d.get(base + "/devices/gate-2")
            assert "disconnected" in d.find_element(By.ID, "record").text
            d.save_screenshot(str(shots / "hub-device.png"))

            d.get(base + "/traffic")
            sites = d.find_elements(By.CSS_SELECTOR, ".site")
            assert {s.find_element(By.TAG_NAME, "strong").text for s in sites} == {"Metro L1 East", "Metro L1 West"}
            assert all(s.find_elements(By.TAG_NAME, "rect") for s in sites)
            d.save_screenshot(str(shots / "hub-traffic.png"))

            d.get(base + "/visits?device=gate-2")
            assert d.find_element(By.ID, "visit-count").text.startswith("16 visits")
            assert "seq 6–9" in d.find_element(By.ID, "gaps").text
            assert "missing seq 6–9 (4 visits)" in d.find_element(By.CSS_SELECTOR, "tr.gap").text
            d.save_screenshot(str(shots / "hub-visits.png"))

            # Publishing from the page: a good status list is taken; a forged form (wrong CSRF token) is not.
            d.get(base + "/publish")
            d.find_element(By.ID, "file-status-list").send_keys(str(world.status_list_paths[0]))
            d.find_element(By.ID, "publish-status-list").click()
            assert after_submit("outcome").startswith("published status list")
            d.save_screenshot(str(shots / "hub-publish.png"))
            d.execute_script("document.querySelectorAll('input[name=csrf]').forEach(e => e.value = 'forged')")
            d.find_element(By.ID, "file-trust-list").send_keys(str(world.trust_list_path))
            d.find_element(By.ID, "publish-trust-list").click()
            assert "CSRF" in after_submit("error")

            # The agent stops: after --offline-after seconds without a round the page says offline.
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(60) == 0
            d.get(base + "/")
            wait.until(lambda _: state_of("gate-1") == "offline")
            d.set_window_size(390, 844)
            d.refresh()
            d.save_screenshot(str(shots / "hub-devices-phone.png"))
        finally:
            if agent.poll() is None:
                agent.kill()
            agent.communicate()
    for name in ("login", "devices", "device", "traffic", "visits", "publish", "devices-phone"):
        assert (shots / f"hub-{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
