"""The agent's HTTP client: mutual TLS, a deadline on every whole request, size caps, prompt abort.

`requests` bounds each socket read, not a request: a hub that drips one byte every few seconds keeps a
read alive for ever. So every request here has a watchdog timer; when the request's total time (connect,
send, headers and body) passes `timeout`, or when the agent is told to stop, the watchdog shuts the
connection's socket down, which wakes any blocked read at once. To reach the socket, the session's
connection pools use a connection class that remembers its sockets.

Answers are read as a stream: at most `max_bytes` are accepted, into memory or into a file, and the
first byte beyond is a refusal, not a full download.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from keys.jsontypes import Json
from sync.errors import HubRefused, HubUnavailable

CHUNK = 64 * 1024


class _Sockets:
    """The live sockets of one client's connections, so a watchdog can shut them down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    def add(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self._socks.add(sock)

    def shutdown_all(self) -> None:
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            # The plain socket's shutdown: wakes a blocked read without touching TLS state.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(s, socket.SHUT_RDWR)


def _tracked_adapter(registry: _Sockets) -> HTTPAdapter:
    class Https(HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            registry.add(self.sock)

    class Http(HTTPConnection):
        def connect(self) -> None:
            super().connect()
            registry.add(self.sock)

    class HttpsPool(HTTPSConnectionPool):
        ConnectionCls = Https

    class HttpPool(HTTPConnectionPool):
        ConnectionCls = Http

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                             **pool_kwargs: object) -> None:
            super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": HttpPool, "https": HttpsPool}

    return Adapter(max_retries=0)


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes  # empty when written to a file
    path: Path | None = None


class HubClient:
    """One hub, one TLS identity; `request` never outlives `timeout`, nor `stop` by more than a moment."""

    def __init__(self, url: str, *, client_cert: str, client_key: str, ca_cert: str, timeout: float,
                 stop: threading.Event | None = None, on_request_end: Callable[[], object] | None = None,
                 on_progress: Callable[[], object] | None = None):
        """`on_request_end` is called when a request ends, either way; `on_progress` for each chunk of an
        answer that arrives (a long download over a slow link is alive while its bytes come)."""
        self.url = url.rstrip("/")
        self.cert = (client_cert, client_key)
        self.ca_cert = ca_cert
        self.timeout = timeout
        self.stop = stop or threading.Event()
        self.on_request_end = on_request_end or (lambda: None)
        self.on_progress = on_progress or (lambda: None)
        self._sockets = _Sockets()
        self._session: requests.Session | None = None
        self._watched: threading.Event | None = None

    def _http(self) -> requests.Session:
        if self._session is None:
            s = requests.Session()
            # The appliance's settings decide the CA and proxies, not the process environment
            # (REQUESTS_CA_BUNDLE would silently replace the pinned hub CA).
            s.trust_env = False
            s.verify = self.ca_cert
            s.cert = self.cert
            adapter = _tracked_adapter(self._sockets)
            s.mount("https://", adapter)
            s.mount("http://", adapter)
            self._session = s
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def abort(self) -> None:
        """Break off whatever request is running (from any thread)."""
        self._sockets.shutdown_all()

    def request(self, method: str, path: str, *, max_bytes: int = 4 * 1024 * 1024, to_file: Path | None = None,
                what: str | None = None, headers: Mapping[str, str] | None = None,
                params: Mapping[str, int] | None = None, json: Json = None, data: bytes | None = None) -> Answer:
        """One request, whole-request deadline `timeout`. 5xx and transport failures: `HubUnavailable`;
        4xx other than 404: `HubRefused`; an answer over `max_bytes`: `HubRefused`."""
        what = what or f"{method} {path}"
        if self.stop.is_set():
            raise HubUnavailable(f"hub {self.url}: stopping, {what} not sent")
        expired = threading.Event()

        def fire() -> None:
            expired.set()
            self.abort()

        timer = threading.Timer(self.timeout, fire)
        timer.daemon = True
        self._watch_stop()
        started = time.monotonic()
        timer.start()
        try:
            return self._exchange(method, path, max_bytes, to_file, what, headers=headers, params=params,
                                  json=json, data=data)
        except requests.exceptions.RequestException as e:
            self.close()
            if expired.is_set() or self.stop.is_set():
                why = "stopping" if self.stop.is_set() else f"no complete answer within {self.timeout:g} s"
                raise HubUnavailable(f"hub {self.url}: {what}: {why}") from None
            if isinstance(e, requests.exceptions.Timeout):
                raise HubUnavailable(f"hub {self.url}: {what}: no answer within {self.timeout:g} s") from None
            if isinstance(e, requests.exceptions.SSLError):
                raise HubUnavailable(f"hub {self.url}: TLS failed ({_short(e)})") from None
            raise HubUnavailable(f"hub {self.url}: unreachable ({_short(e)})") from None
        except OSError:  # writing the answer to disk
            self.close()
            if expired.is_set() or self.stop.is_set():
                raise HubUnavailable(f"hub {self.url}: {what}: no complete answer within "
                                     f"{self.timeout:g} s") from None
            raise
        finally:
            timer.cancel()
            if time.monotonic() - started >= self.timeout:
                self.close()
            self.on_request_end()

    def _watch_stop(self) -> None:
        """One thread per stop event: when it is set, the running request (if any) is broken off."""
        if self._watched is self.stop:
            return
        stop = self._watched = self.stop

        def watch() -> None:
            stop.wait()
            self.abort()

        threading.Thread(target=watch, name="hub-stop-watch", daemon=True).start()

    def _exchange(self, method: str, path: str, max_bytes: int, to_file: Path | None, what: str, *,
                  headers: Mapping[str, str] | None, params: Mapping[str, int] | None, json: Json,
                  data: bytes | None) -> Answer:
        r = self._http().request(method, f"{self.url}{path}", timeout=(self.timeout, self.timeout), stream=True,
                                 headers=headers, params=params, json=json, data=data)
        with r:
            if r.status_code >= 500 or r.status_code == 429:
                self.close()
                wait = retry_after(r.headers.get("Retry-After"))
                kind = "too many requests (429)" if r.status_code == 429 else f"server error {r.status_code}"
                raise HubUnavailable(f"hub {self.url}: {kind} on {what}"
                                     + (f"; it asks to wait {wait:.0f} s" if wait else ""), retry_after=wait)
            declared = r.headers.get("Content-Length")
            if declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
                self.close()
                raise HubRefused(r.status_code, f"{what}: answer of {declared} bytes is over the limit of "
                                                f"{max_bytes} bytes")
            headers = CaseInsensitiveDict(r.headers)
            if to_file is not None and r.status_code == 200:
                self._to_file(r, to_file, max_bytes, what)
                return Answer(r.status_code, headers, b"", to_file)
            body = bytearray()
            for chunk in r.iter_content(CHUNK):
                self.on_progress()
                body += chunk
                if len(body) > max_bytes:
                    self.close()
                    raise HubRefused(r.status_code, f"{what}: answer over the limit of {max_bytes} bytes")
        if 400 <= r.status_code != 404:
            raise HubRefused(r.status_code, f"{what}: {_detail(bytes(body))}")
        return Answer(r.status_code, headers, bytes(body))

    def _to_file(self, r: requests.Response, path: Path, max_bytes: int, what: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        try:
            with open(path, "wb") as f:
                for chunk in r.iter_content(CHUNK):
                    self.on_progress()
                    size += len(chunk)
                    if size > max_bytes:
                        self.close()
                        raise HubRefused(r.status_code, f"{what}: answer over the limit of {max_bytes} bytes")
                    f.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise


# A hub (or a proxy in front of it) asking for more than a day is mistaken; the agent's cap applies anyway.
MAX_RETRY_AFTER = 86_400.0


def retry_after(header: str | None) -> float | None:
    """Seconds a Retry-After header asks to wait (delta-seconds or an HTTP date), None when it asks nothing
    usable (absent, malformed, in the past)."""
    if not header:
        return None
    text = header.strip()
    # ASCII digits only: str.isdigit() takes "²" too, which int() refuses.
    if text.isascii() and text.isdigit():
        seconds = float(int(text[:12]))
    else:
        try:
            seconds = email.utils.parsedate_to_datetime(text).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(seconds, MAX_RETRY_AFTER) if seconds > 0 else None


def _detail(body: bytes) -> str:
    """The words of a refusal, as text every file and systemd can take: JSON's `"\\udcff"` is a lone
    surrogate, which no UTF-8 encoder writes (the status file and systemd's status line carry these words)."""
    import json
    import re

    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return body[:200].decode("utf-8", "replace")
    detail = doc.get("detail") if isinstance(doc, dict) else None
    return re.sub("[\ud800-\udfff]", "\ufffd", str(detail if detail is not None else doc)[:300])


def _short(e: BaseException) -> str:
    text = str(e)
    for marker in ("Caused by ", "reason="):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text[:160]


def spool_path(data_dir: Path, name: str) -> Path:
    """Where a download is streamed before it is checked (in the data directory: same file system)."""
    from scanner.storage.datadir import DataDir

    return DataDir(data_dir).spool / f"{name}.{os.getpid()}.part"
