"""A hub impostor on 127.0.0.1 with the real hub's TLS identity, answering whatever a test scripts.

Each path maps to a `Reply`: status, headers, body, and how to send it (all at once, one byte per
`drip` seconds, or the status line itself dripped). Every request is recorded as (method, path), so a
test can see which steps the agent still took after an earlier one failed.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.helpers.faultproxy import Pki


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    drip: float = 0.0  # seconds between body bytes
    drip_head: bool = False  # drip the status line and headers too
    chunked: bool = False  # no Content-Length


class HostileHub:
    def __init__(self, pki: Pki, routes: dict[str, Reply | Callable[[bytes], Reply]]):
        self.routes = routes
        self.seen: list[tuple[str, str]] = []
        self.bodies: dict[str, bytes] = {}
        self._stop = threading.Event()
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
        self.ctx.load_cert_chain(pki.hub_cert, pki.hub_key)
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.ctx.num_tickets = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()

    def __enter__(self) -> HostileHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        conn.settimeout(30)
        try:
            while not self._stop.is_set():
                if not self._one(conn):
                    return
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            conn.close()

    def _one(self, conn: ssl.SSLSocket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:] if ":" in x)}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            rest += chunk
        path = target.split("?", 1)[0]
        self.seen.append((method, path))
        self.bodies[path] = rest[:length]
        route = self.routes.get(path) or next((r for p, r in self.routes.items()
                                               if p.endswith("*") and path.startswith(p[:-1])), None)
        reply = route(rest[:length]) if callable(route) else (route or Reply(404, b'{"detail":"Not Found"}'))
        hdrs = dict(reply.headers)
        if reply.chunked:
            hdrs["Transfer-Encoding"] = "chunked"
        else:
            hdrs["Content-Length"] = str(len(reply.body))
        out_head = (f"HTTP/1.1 {reply.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
                    + "\r\n").encode()
        if reply.drip_head:
            for b in out_head:
                conn.sendall(bytes([b]))
                time.sleep(reply.drip)
                if self._stop.is_set():
                    return False
        else:
            conn.sendall(out_head)
        body = reply.body
        if reply.chunked:
            step = 1024 * 1024
            body = b"".join(f"{len(body[i:i + step]):x}\r\n".encode() + body[i:i + step] + b"\r\n"
                            for i in range(0, len(body), step)) + b"0\r\n\r\n"
        if reply.drip:
            for b in body:
                conn.sendall(bytes([b]))
                time.sleep(reply.drip)
                if self._stop.is_set():
                    return False
        else:
            conn.sendall(body)
        return True
