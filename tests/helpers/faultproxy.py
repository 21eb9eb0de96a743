"""Test network helpers: a PKI for mutual TLS, the hub as a real process, and a fault-injecting proxy.

`FaultProxy` sits between the sync agent and the hub. It terminates TLS with the hub's own server
certificate and connects upstream with the device's client certificate (the test holds both), so it
sees plain HTTP (parsed with h11) and can fail at exact points of a request:

* `drop_before`   close the TCP connection before any byte of the request is read;
* `mid_body`      forward the head and half of the body to the hub, then cut both connections;
* `after_commit`  forward the whole request, read the hub's full response (the hub has committed),
                  then close the device's connection without answering;
* `http_500`, `http_503`  answer with that status without forwarding;
* `stall`         forward, then hold the answer for `stall_seconds` (past the agent's timeout) and close.

Faults are queued with `plan(...)`, each applied to the next request matching `path_prefix`; other
requests pass through. `triggered` records the faults that fired, so a test can assert it tested
what it meant to.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import h11

from keys.deviceca import enroll, init_ca, server_cert
from tests.helpers import REPO as ROOT


@dataclass
class Pki:
    ca_dir: Path
    ca: Path
    hub_cert: Path
    hub_key: Path
    device_cert: Path
    device_key: Path
    device_id: str

    def hub_toml(self, url: str) -> str:
        """The device settings' `[hub]` section for a hub at `url` trusting this PKI."""
        return (f'[hub]\nurl = "{url}"\nclient_cert = "{self.device_cert}"\nclient_key = "{self.device_key}"\n'
                f'ca_cert = "{self.ca}"\n')


def make_pki(directory: Path, device_id: str = "dev-1") -> Pki:
    ca_dir = directory / "device-ca"
    init_ca(ca_dir)
    srv = server_cert(ca_dir, ["127.0.0.1", "localhost"], directory / "hub-tls")
    dev = enroll(ca_dir, device_id, directory / "device-tls")
    return Pki(ca_dir, ca_dir / "ca.pem", srv.cert, srv.key, dev.cert, dev.key, device_id)


# Hub options for tests that publish lists straight into the hub's database and sync at once: the hub
# reads the published heads for every round instead of once a second (`sync.hub.roundcache`).
FRESH_LISTS = ("--list-cache", "0")


class HubProcess:
    """`python -m sync.hub serve` on 127.0.0.1, port 0; the URL is read from its first output line."""

    def __init__(self, db: Path | str, pki: Pki, *, operator_config: Path | None = None,
                 extra: tuple[str, ...] = (), prefix: tuple[str, ...] = ()):
        # `db` is a SQLite path or a postgresql:// URL. Devices enrolled on the test CA are registered
        # on the hub from its enrolled.jsonl, also those enrolled while the hub runs.
        # `prefix` runs the hub under another command (`taskset -c 0` in benchmarks).
        args = [*prefix, sys.executable, "-m", "sync.hub", "serve", "--db", str(db), "--host", "127.0.0.1",
                "--port", "0", "--cert", str(pki.hub_cert), "--key", str(pki.hub_key),
                "--device-ca", str(pki.ca), "--enrolled", str(pki.ca_dir / "enrolled.jsonl"), *extra]
        if operator_config:
            args += ["--operator-listen", "127.0.0.1:0", "--operator-config", str(operator_config)]
        self.operator_url: str | None = None
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        out = self.proc.stdout
        threading.Thread(target=lambda: lines.put(out.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            self.stop()
            raise RuntimeError("hub did not start within 60 s") from None
        if "listening on" not in line:
            err = self.stop()
            raise RuntimeError(f"hub failed to start: {line!r} {err}")
        self.url = line.rsplit(" ", 1)[1].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        if operator_config:
            threading.Thread(target=lambda: lines.put(out.readline()), daemon=True).start()
            try:
                line = lines.get(timeout=30)
            except queue.Empty:
                line = ""
            if "operator pages on" not in line:
                err = self.stop()
                raise RuntimeError(f"hub operator listener failed to start: {line!r} {err}")
            self.operator_url = line.rsplit(" ", 1)[1].strip()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err or ""

    def __enter__(self) -> HubProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


FAULTS = ("drop_before", "mid_body", "after_commit", "http_500", "http_503", "stall")


class FaultProxy:
    def __init__(self, upstream_port: int, pki: Pki, *, path_prefix: str = "/v1/visits",
                 stall_seconds: float = 3.0):
        self.upstream = ("127.0.0.1", upstream_port)
        self.path_prefix = path_prefix
        self.stall_seconds = stall_seconds
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self.triggered: list[str] = []
        self.requests = 0
        self._stop = threading.Event()
        self.server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_ctx.load_cert_chain(pki.hub_cert, pki.hub_key)
        self.server_ctx.num_tickets = 0
        self.client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
        self.client_ctx.load_cert_chain(pki.device_cert, pki.device_key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def plan(self, *faults: str) -> None:
        for f in faults:
            assert f in FAULTS, f
        with self._lock:
            self._faults.extend(faults)

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------

    def _next_fault(self, path: str) -> str | None:
        with self._lock:
            self.requests += 1
            if path.startswith(self.path_prefix) and self._faults:
                fault = self._faults.popleft()
                self.triggered.append(fault)
                return fault
        return None

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        with self._lock:
            drop = bool(self._faults) and self._faults[0] == "drop_before"
            if drop:
                self._faults.popleft()
                self.triggered.append("drop_before")
        if drop:
            raw.close()
            return
        try:
            conn = self.server_ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        conn.settimeout(60)
        try:
            self._serve_http(conn)
        except (OSError, h11.ProtocolError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def _recv_request(self, conn: ssl.SSLSocket, h: h11.Connection) -> tuple[h11.Request, bytes] | None:
        req: h11.Request | None = None
        body = bytearray()
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                data = conn.recv(65536)
                h.receive_data(data)
                if not data and req is None:
                    return None
                continue
            if isinstance(event, h11.Request):
                req = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert req is not None
                return req, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                return None

    def _serve_http(self, conn: ssl.SSLSocket) -> None:
        h = h11.Connection(h11.SERVER)
        while not self._stop.is_set():
            got = self._recv_request(conn, h)
            if got is None:
                return
            req, body = got
            fault = self._next_fault(req.target.decode())
            if fault in ("http_500", "http_503"):
                code = 500 if fault == "http_500" else 503
                msg = b'{"detail":"injected failure"}'
                conn.sendall(h.send(h11.Response(status_code=code, headers=[
                    ("content-type", "application/json"), ("content-length", str(len(msg))),
                    ("retry-after", "1"), ("connection", "close")])) or b"")
                conn.sendall((h.send(h11.Data(data=msg)) or b"") + (h.send(h11.EndOfMessage()) or b""))
                return
            if fault == "mid_body":
                self._forward(req, body, cut=True)
                return
            response, rbody = self._forward(req, body, cut=False)
            if fault == "after_commit":
                return
            if fault == "stall":
                self._stop.wait(self.stall_seconds)
                return
            headers = [(k, v) for k, v in response.headers if k.lower() not in (b"connection",)]
            conn.sendall(h.send(h11.Response(status_code=response.status_code, headers=headers,
                                             reason=response.reason)) or b"")
            if rbody:
                conn.sendall(h.send(h11.Data(data=rbody)) or b"")
            conn.sendall(h.send(h11.EndOfMessage()) or b"")
            if h.our_state is h11.MUST_CLOSE:
                return
            h.start_next_cycle()

    def _forward(self, req: h11.Request, body: bytes, *, cut: bool) -> tuple[h11.Response, bytes]:
        """Send the request to the hub on a fresh TLS connection; with `cut`, stop halfway through the body."""
        with socket.create_connection(self.upstream, timeout=60) as raw, \
                self.client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as up:
            c = h11.Connection(h11.CLIENT)
            headers = [(k, v) for k, v in req.headers if k.lower() not in (b"connection",)]
            headers.append((b"connection", b"close"))
            up.sendall(c.send(h11.Request(method=req.method, target=req.target, headers=headers)) or b"")
            if cut:
                up.sendall(c.send(h11.Data(data=body[: len(body) // 2])) or b"")
                return h11.Response(status_code=599, headers=[]), b""
            if body:
                up.sendall(c.send(h11.Data(data=body)) or b"")
            up.sendall(c.send(h11.EndOfMessage()) or b"")
            response: h11.Response | None = None
            out = bytearray()
            while True:
                event = c.next_event()
                if event is h11.NEED_DATA:
                    c.receive_data(up.recv(65536))
                elif isinstance(event, h11.Response):
                    response = event
                elif isinstance(event, h11.Data):
                    out += event.data
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    assert response is not None
                    return response, bytes(out)
