"""The real hub process against hostile uploads from an enrolled device: it reads no more than its limit,
keeps its memory, and keeps answering other devices meanwhile."""

from __future__ import annotations

import gzip
import threading
import time

import pytest
import requests

from bench.hub_limits import rss_mb, session
from tests.helpers.faultproxy import HubProcess, make_pki

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    d = tmp_path_factory.mktemp("hub")
    pki = make_pki(d)
    with HubProcess(d / "hub.sqlite", pki) as proc:
        yield proc, pki


def test_chunked_upload_without_length_is_cut_off_at_the_limit(hub) -> None:
    proc, pki = hub
    sent = [0]

    def body():
        while sent[0] < 256 * MiB:
            sent[0] += MiB
            yield b"[" + b" " * (MiB - 1)

    peak = [rss_mb(proc.proc.pid)]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(proc.proc.pid))
            time.sleep(0.02)

    w = threading.Thread(target=watch)
    w.start()
    try:
        r = session(pki).post(f"{proc.url}/v1/visits", data=body(), timeout=120)
        assert r.status_code == 413
    except requests.ConnectionError:
        pass  # the hub closed the connection while the body was still coming: also a refusal
    finally:
        done.set()
        w.join()
    assert sent[0] < 64 * MiB, f"the hub read {sent[0] // MiB} MiB before refusing"
    assert peak[0] < 400
    assert session(pki).get(f"{proc.url}/v1/time", timeout=30).status_code == 200


def test_declared_length_over_the_limit_is_refused_before_the_body(hub) -> None:
    proc, pki = hub
    sent = [0]

    def body():
        while sent[0] < 64 * MiB:
            sent[0] += MiB
            yield b" " * MiB

    try:
        r = session(pki).post(f"{proc.url}/v1/visits", data=body(), timeout=60,
                              headers={"Content-Length": str(64 * MiB)})
        assert r.status_code == 413 and "larger than the limit" in r.text
    except requests.ConnectionError:
        pass
    assert sent[0] < 32 * MiB


def test_gzip_bomb_is_refused_and_does_not_stall_other_devices(hub) -> None:
    proc, pki = hub
    bomb = gzip.compress(b" " * (512 * MiB), 9)
    times: list[float] = []
    done = threading.Event()

    def other() -> None:
        s = session(pki)
        while not done.is_set():
            t = time.monotonic()
            s.get(f"{proc.url}/v1/time", timeout=60).raise_for_status()
            times.append(time.monotonic() - t)
            time.sleep(0.05)

    w = threading.Thread(target=other)
    w.start()
    try:
        r = session(pki).post(f"{proc.url}/v1/visits", data=bomb, timeout=60,
                              headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    finally:
        done.set()
        w.join()
    assert r.status_code == 413 and "inflates beyond" in r.text
    assert times and rss_mb(proc.proc.pid) < 400


def test_deeply_nested_upload_is_refused_before_parsing(hub) -> None:
    proc, pki = hub
    body = b'{"visits": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    r = session(pki).post(f"{proc.url}/v1/visits", data=body, timeout=60,
                          headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "deeper" in r.text
