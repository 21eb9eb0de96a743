"""Failed operator logins are limited per client address: a growing wait (429, Retry-After) for the address
that keeps failing, none for the others, and a table of addresses that never grows past its bound."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from sync.hub.operator.auth import LoginThrottle
from tests.helpers.faultproxy import HubProcess, make_pki
from tests.helpers.operator import OPERATOR, PASSWORD, csrf_of, write_operator_config


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_grows_per_address_and_is_forgotten():
    clock = Clock()
    t = LoginThrottle(free=3, first_wait=10, max_wait=60, forget_after=600, clock=clock)
    for _ in range(2):
        t.failed("192.0.2.1")
        assert t.wait("192.0.2.1") == 0
    t.failed("192.0.2.1")
    assert t.wait("192.0.2.1") == 10 and t.wait("192.0.2.2") == 0
    clock.now += 10
    assert t.wait("192.0.2.1") == 0
    t.failed("192.0.2.1")
    assert t.wait("192.0.2.1") == 20
    for _ in range(5):
        t.failed("192.0.2.1")
    assert t.wait("192.0.2.1") == 60  # capped
    clock.now += 601
    assert t.wait("192.0.2.1") == 0 and len(t) == 0  # forgotten after a quiet spell
    for _ in range(3):
        t.failed("192.0.2.1")
    t.succeeded("192.0.2.1")
    assert t.wait("192.0.2.1") == 0 and len(t) == 0


def test_ipv6_counts_by_its_prefix_and_the_table_is_bounded():
    t = LoginThrottle(free=1, first_wait=10, max_addresses=100, clock=Clock())
    t.failed("2001:db8:1:2::5")
    assert t.wait("2001:db8:1:2::99") == 10 and t.wait("2001:db8:1:3::5") == 0
    t.failed("::ffff:192.0.2.7")
    assert t.wait("192.0.2.7") == 10
    for i in range(1000):
        t.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(t) == 100
    assert t.wait("10.0.3.231") == 10 and t.wait("2001:db8:1:2::5") == 0  # the oldest made room
    t.failed("not an address")
    assert t.wait("not an address") == 10


def test_a_real_hub_holds_up_only_the_address_that_keeps_failing(tmp_path):
    """The operator listener takes the client address from a proxy on 127.0.0.1 (X-Forwarded-For), which
    lets one test speak from several addresses."""
    pki = make_pki(tmp_path)
    config = write_operator_config(tmp_path / "operators.toml")
    with HubProcess(tmp_path / "hub.sqlite", pki, operator_config=config) as proc:
        base = proc.operator_url

        def attempt(address: str, password: str) -> requests.Response:
            s = requests.Session()
            s.trust_env = False
            s.headers["X-Forwarded-For"] = address
            token = csrf_of(s.get(f"{base}/login", timeout=30).text)
            return s.post(f"{base}/login", data={"name": OPERATOR, "password": password, "csrf": token},
                          allow_redirects=False, timeout=30)

        for _ in range(5):
            r = attempt("203.0.113.5", "wrong")
            assert r.status_code == 401 and "Wrong name or password" in r.text
        r = attempt("203.0.113.5", PASSWORD)  # even the right password waits: nothing is checked
        assert r.status_code == 429 and "Too many failed logins" in r.text
        assert 0 < int(r.headers["Retry-After"]) <= 30 and "cp_session" not in r.cookies
        r = attempt("198.51.100.7", PASSWORD)
        assert r.status_code == 303 and "cp_session" in r.cookies


def test_guesses_sent_side_by_side_get_no_more_answers_than_one_after_another(tmp_path):
    """Twelve wrong passwords sent at once from one address all pass the first look at the wait (none has
    failed yet); only the first five to be checked are answered, the rest get 429 like sequential guesses."""
    pki = make_pki(tmp_path)
    config = write_operator_config(tmp_path / "operators.toml")
    with HubProcess(tmp_path / "hub.sqlite", pki, operator_config=config) as proc:
        base = proc.operator_url
        prepared = []
        for _ in range(12):
            s = requests.Session()
            s.trust_env = False
            s.headers["X-Forwarded-For"] = "203.0.113.9"
            prepared.append((s, csrf_of(s.get(f"{base}/login", timeout=30).text)))
        start = threading.Barrier(len(prepared))

        def guess(session_token: tuple[requests.Session, str]) -> int:
            s, token = session_token
            start.wait(timeout=30)
            return s.post(f"{base}/login", data={"name": OPERATOR, "password": "wrong", "csrf": token},
                          allow_redirects=False, timeout=60).status_code

        with ThreadPoolExecutor(len(prepared)) as pool:
            codes = list(pool.map(guess, prepared))
        assert sorted(codes) == [401] * 5 + [429] * 7
