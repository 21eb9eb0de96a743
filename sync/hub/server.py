"""Serving the hub: uvicorn on TLS that requires a client certificate from the device CA.

uvicorn (0.54 here) does not put the peer certificate into the ASGI scope, so `PeerCertProtocol`, a
small subclass of its HTTP protocol (httptools, a C parser; h11 where httptools is missing), reads it
from the TLS transport once per connection (`transport.get_extra_info("ssl_object")
.getpeercert(binary_form=True)`) and adds it to every request scope under `sync.hub.app.PEER_CERT_KEY`.
The TLS layer has already verified the chain against the device CA (`ssl.CERT_REQUIRED`), so a
connection without a valid certificate never reaches the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, TypedDict

from uvicorn.protocols.http.h11_impl import H11Protocol

try:  # the C parser costs a fraction of h11 per request
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HttpProtocol
except ImportError:  # pragma: no cover - httptools is a dependency
    _HttpProtocol = H11Protocol  # type: ignore[assignment,misc]

from sync.errors import HubServeError
from sync.hub.app import PEER_CERT_KEY

if TYPE_CHECKING:
    from types import FrameType

    import uvicorn
    from starlette.types import ASGIApp, Receive, Scope, Send

    Apps: TypeAlias = "tuple[ASGIApp, ASGIApp | None]"  # the device API and the operator pages (or none)


class RunOptions(TypedDict):
    """How each serving process runs its apps (the same for every worker)."""

    certfile: str
    keyfile: str
    device_ca: str
    log_level: str
    operator: OperatorListener | None


class _WithPeerCert:
    """ASGI wrapper adding the connection's client certificate (DER) to each scope."""

    def __init__(self, app: ASGIApp, der: bytes | None):
        self.app = app
        self.der = der

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, PEER_CERT_KEY: self.der}
        await self.app(scope, receive, send)


class PeerCertProtocol(_HttpProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        self.app = _WithPeerCert(self.config.loaded_app, der)


def _no_tickets(_config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    ctx = default()
    # Devices do not resume sessions; without tickets the only bytes the hub sends after the
    # handshake are HTTP responses, which keeps the TLS stream simple to reason about.
    ctx.num_tickets = 0
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def listening_socket(host: str, port: int) -> socket.socket:
    """The hub's TCP socket, bound and listening, with Nagle's algorithm off.

    Created with IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose `proto` says
    TCP, and a socket made with proto 0 (and every connection accepted from it) would otherwise keep
    Nagle's algorithm, delaying each small answer by the peer's delayed ACK (~40 ms).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this on Linux; asyncio sets it again on each, as proto is TCP.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _listen(host: str, port: int) -> socket.socket:
    try:
        return listening_socket(host, port)
    except OSError as e:
        raise HubServeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e


def check_tls(certfile: str, keyfile: str, ca: str | None = None, *,
              options: tuple[str, str] = ("--cert", "--key")) -> None:
    """Load a certificate with its key (and a CA) as the server will; `HubServeError` names the file that
    cannot be used (not PEM, a key that is not the certificate's, swapped files)."""
    from keys.deviceca import tls_files_problem

    problem = tls_files_problem(certfile, keyfile, ca)
    if problem is not None and problem[0] == "cert":
        raise HubServeError(f"{options[0]} {certfile} with {options[1]} {keyfile}: not a PEM certificate and "
                            f"its private key ({problem[1]})")
    if problem is not None:
        raise HubServeError(f"--device-ca {ca}: not a PEM CA certificate ({problem[1]})")


@dataclass(frozen=True)
class OperatorListener:
    """The operator pages' own listener: plain HTTP, or TLS without client certificates."""

    host: str
    port: int
    certfile: str | None = None
    keyfile: str | None = None


def _start_operator(app: ASGIApp, sock: socket.socket, op: OperatorListener,
                    log_level: str) -> tuple[uvicorn.Server, threading.Thread]:
    """Serve the operator app from a thread (uvicorn leaves signal handling to the main server)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False, timeout_keep_alive=30,
                                           timeout_graceful_shutdown=2, ssl_certfile=op.certfile,
                                           ssl_keyfile=op.keyfile))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="operator", daemon=True)
    thread.start()
    return server, thread


def _run(apps: Apps, sock: socket.socket, op_sock: socket.socket | None, *, certfile: str,
         keyfile: str, device_ca: str, log_level: str, operator: OperatorListener | None) -> None:
    import uvicorn

    app, op_app = apps
    config = uvicorn.Config(app, http=PeerCertProtocol, ssl_certfile=certfile, ssl_keyfile=keyfile,
                            ssl_cert_reqs=ssl.CERT_REQUIRED, ssl_ca_certs=device_ca,
                            ssl_context_factory=_no_tickets, log_level=log_level, access_log=False,
                            # Not uvloop: its TLS close goes on reading a refused upload's body until the
                            # sender stops, where asyncio's stops the sender at once.
                            loop="asyncio", timeout_keep_alive=30,
                            # Devices reach the hub through TCP passthrough, never an HTTP proxy.
                            proxy_headers=False,
                            # In-flight uploads finish (each commits in one step); idle TLS keep-alive
                            # connections are not waited for beyond this.
                            timeout_graceful_shutdown=2)
    op = _start_operator(op_app, op_sock, operator, log_level) if op_app and op_sock and operator else None
    _settle_gc()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if op:
            op[0].should_exit = True
            op[1].join(5)


def _settle_gc() -> None:
    """Keep the cyclic garbage collector off the long-lived objects: an upload allocates thousands of
    containers (rows, their values), so collections run every few uploads, and each full one walked
    every module, class and app object built at start (about 5% of a serving process's CPU). Those are
    frozen out of collection, and the young generation collects every 10,000 allocations instead of 700,
    so fewer rows of uploads still in flight are promoted to be walked again."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, *gc.get_threshold()[1:])


def _shown(sock: socket.socket, host: str) -> str:
    return f"[{host}]" if sock.family == socket.AF_INET6 else host


def serve(make_apps: Callable[[], Apps], *, host: str, port: int, certfile: str, keyfile: str,
          device_ca: str, workers: int = 1, announce: Callable[[str], None] | None = None,
          log_level: str = "warning", operator: OperatorListener | None = None) -> None:
    """Bind, announce the URLs (port 0 picks a free port), then serve until SIGINT/SIGTERM.

    `make_apps()` builds (device API app, operator app or None) for one serving process. With `workers`
    > 1 the parent forks that many processes sharing the listening sockets (the kernel spreads
    connections over them); each builds its apps after the fork (its own database pool). A worker that
    dies is replaced; SIGTERM to the parent stops them all.
    """
    say = announce or (lambda line: print(line, flush=True, file=sys.stdout))
    # Checked once here, before anything is announced or forked: a serving process that cannot load them
    # would fail at start, be replaced, and fail again.
    check_tls(certfile, keyfile, device_ca)
    if operator is not None and operator.certfile and operator.keyfile:
        check_tls(operator.certfile, operator.keyfile, options=("--operator-cert", "--operator-key"))
    sock = _listen(host, port)
    op_sock = _listen(operator.host, operator.port) if operator is not None else None
    say(f"hub listening on https://{_shown(sock, host)}:{sock.getsockname()[1]}")
    if operator is not None and op_sock is not None:
        say(f"operator pages on {'https' if operator.certfile else 'http'}://{_shown(op_sock, operator.host)}:"
            f"{op_sock.getsockname()[1]}")
    opts = RunOptions(certfile=certfile, keyfile=keyfile, device_ca=device_ca, log_level=log_level,
                      operator=operator)
    if workers <= 1:
        _run(make_apps(), sock, op_sock, **opts)
        return
    _supervise(make_apps, sock, op_sock, workers, opts)


def _supervise(make_apps: Callable[[], Apps], sock: socket.socket, op_sock: socket.socket | None,
               workers: int, opts: RunOptions) -> None:
    import os
    import signal
    import time

    stopping = False

    def spawn() -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _run(make_apps(), sock, op_sock, **opts)
            except BaseException as e:  # a child must never return into the parent's code
                print(f"hub worker {os.getpid()}: {e}", file=sys.stderr, flush=True)
                code = 1
            finally:
                os._exit(code)
        return pid

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    children: set[int] = {spawn() for _ in range(workers)}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.discard(pid)
        if not stopping:
            time.sleep(0.5)  # a worker that fails at once must not spin the supervisor
            children.add(spawn())
