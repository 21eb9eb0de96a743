"""Operator pages in tests: an operator file, a logged-in requests session, headless Chromium via selenium."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import requests

from sync.hub.operator.auth import hash_password

OPERATOR, PASSWORD = "alice", "correct horse battery"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def write_operator_config(path: Path, *, metrics_token: str | None = None) -> Path:
    lines = ['session_secret = "test-secret-0123456789abcdef0123456789"',
             f'[operators.{OPERATOR}]', f'password = "{hash_password(PASSWORD)}"']
    if metrics_token:
        lines.insert(1, f'metrics_token = "{metrics_token}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def logged_in(base: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    token = csrf_of(s.get(f"{base}/login", timeout=30).text)
    r = s.post(f"{base}/login", data={"name": OPERATOR, "password": PASSWORD, "csrf": token}, timeout=30)
    assert r.status_code == 200 and r.url.endswith("/"), r.text[:300]
    return s


class Browser:
    """Headless Debian Chromium driven by chromedriver, with a fresh profile removed on close."""

    def __init__(self, width: int = 1000, height: int = 900):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="checkpoint-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", f"--user-data-dir={self.profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
