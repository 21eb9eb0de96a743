"""Benchmark: the hub under hostile uploads, and its answer latency on loopback.

    .venv/bin/python -m bench.hub_limits [--uploads 4] [--gib 1.0] [--rtt-count 300]

Starts the real hub (`python -m sync.hub serve`) on 127.0.0.1 with mutual TLS, then

1. round trips: N sequential `GET /v1/health` on one keep-alive connection; the floor is the same
   number of round trips to a bare TLS echo server on loopback in this process (what TLS and Python
   cost without the hub); prints the median and 95th percentile and the ratio to the floor;
2. hostile uploads: `--uploads` simultaneous chunked uploads of `--gib` GiB each (no Content-Length)
   while another device asks `/v1/time` every 100 ms; prints the hub's peak RSS (goal < 400 MB), how
   much of each upload the hub read before refusing it, and the other device's answer times;
3. a gzip bomb (0.2 MB inflating to 1 GiB) the same way.

The machine may be shared: compare the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import gzip
import socket
import ssl
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.helpers.faultproxy import HubProcess, Pki, make_pki

MiB = 1024 * 1024


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def session(pki: Pki) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = str(pki.ca)
    s.cert = (str(pki.device_cert), str(pki.device_key))
    return s


def tls_echo_floor(pki: Pki, n: int) -> list[float]:
    """The same client's round trips to a bare TLS responder on loopback: no HTTP framework behind it."""
    srv_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    srv_ctx.load_cert_chain(pki.hub_cert, pki.hub_key)
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]

    def serve() -> None:
        conn, _ = lsock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with srv_ctx.wrap_socket(conn, server_side=True) as c:
            while c.recv(4096):
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")

    threading.Thread(target=serve, daemon=True).start()
    try:
        return round_trips(f"https://127.0.0.1:{port}", pki, n)
    finally:
        lsock.close()


def round_trips(url: str, pki: Pki, n: int) -> list[float]:
    s = session(pki)
    s.get(f"{url}/v1/health", timeout=30)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        s.get(f"{url}/v1/health", timeout=30).raise_for_status()
        times.append(time.perf_counter() - t)
    s.close()
    return times


def ms(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


def hostile(url: str, pki: Pki, pid: int, bodies: list[tuple[str, bytes | Iterator[bytes], dict[str, str]]]) -> None:
    peak = rss_mb(pid)
    base = peak
    done = threading.Event()
    sent: dict[str, int] = {}
    outcome: dict[str, str] = {}
    times: list[float] = []

    def upload(name: str, body: bytes | Iterator[bytes], headers: dict[str, str]) -> None:
        s = session(pki)
        try:
            r = s.post(f"{url}/v1/visits", data=body, headers=headers, timeout=600)
            outcome[name] = str(r.status_code)
        except requests.RequestException as e:
            outcome[name] = f"connection closed by the hub ({type(e).__name__})"
        s.close()

    def other_device() -> None:
        s = session(pki)
        while not done.is_set():
            t = time.perf_counter()
            try:
                s.get(f"{url}/v1/time", timeout=60).raise_for_status()
                times.append(time.perf_counter() - t)
            except requests.RequestException:
                times.append(float("inf"))
            time.sleep(0.1)
        s.close()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(pid))
            time.sleep(0.02)

    watchers = [threading.Thread(target=other_device), threading.Thread(target=sample)]
    for w in watchers:
        w.start()
    t0 = time.perf_counter()
    threads = []
    for name, body, headers in bodies:
        sent[name] = 0
        threads.append(threading.Thread(target=upload, args=(name, body, headers)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    time.sleep(0.3)
    done.set()
    for w in watchers:
        w.join()
    print(f"  hub RSS: {base:.0f} MB before, peak {peak:.0f} MB (goal < 400 MB); all refused in {took:.2f} s")
    for name in sorted(outcome):
        print(f"  {name}: {outcome[name]}")
    ok = [t for t in times if t != float("inf")]
    print(f"  other device's /v1/time meanwhile: {len(ok)}/{len(times)} answered, "
          f"median {ms(ok, 0.5):.1f} ms, max {max(ok) * 1000:.1f} ms" if ok else "  other device: no answers")


def endless(limit: int, counter: dict[str, int], name: str) -> Iterator[bytes]:
    chunk = b"[" + b" " * (MiB - 1)
    while counter[name] < limit:
        counter[name] += len(chunk)
        yield chunk


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uploads", type=int, default=4)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--rtt-count", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pki = make_pki(d, "bench-dev")
        with HubProcess(d / "hub.sqlite", pki) as hub:
            floor = tls_echo_floor(pki, args.rtt_count)
            rtt = round_trips(hub.url, pki, args.rtt_count)
            print(f"round trip, {args.rtt_count} sequential GET /v1/health on one connection:")
            print(f"  hub: median {ms(rtt, 0.5):.2f} ms, p95 {ms(rtt, 0.95):.2f} ms (goal < 5 ms)")
            ratio = statistics.median(rtt) / statistics.median(floor)
            print(f"  floor (same client, bare TLS responder): median {ms(floor, 0.5):.2f} ms; ratio {ratio:.1f}x")
            limit = int(args.gib * 1024 * MiB)
            counters: dict[str, int] = {}
            bodies: list[tuple[str, bytes | Iterator[bytes], dict[str, str]]] = []
            for i in range(args.uploads):
                name = f"upload {i + 1} ({args.gib:g} GiB chunked)"
                counters[name] = 0
                bodies.append((name, endless(limit, counters, name), {"Content-Type": "application/json"}))
            print(f"{args.uploads} simultaneous chunked uploads of {args.gib:g} GiB:")
            hostile(hub.url, pki, hub.proc.pid, bodies)
            for name, n in counters.items():
                print(f"  {name}: client got to send {n / MiB:.0f} MiB before the hub stopped reading")
            bomb = gzip.compress(b" " * (1024 * MiB), 9)
            print(f"gzip bomb: {len(bomb) / MiB:.2f} MiB inflating to 1024 MiB, {args.uploads} at once:")
            hostile(hub.url, pki, hub.proc.pid,
                    [(f"bomb {i + 1}", bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
                     for i in range(args.uploads)])


if __name__ == "__main__":
    main()
