"""The hub's HTTP API (FastAPI): sync rounds, visit uploads, trust list, status lists, venue profiles, time, health.

Every endpoint sits behind mutual TLS (see `sync/hub/server.py`); the device id is the common name of
the verified client certificate, which the server puts into the ASGI scope under `PEER_CERT_KEY`. Every
request, whatever its path, must also come from a certificate the device registry allows
(`EnrolmentGate`, `sync/hub/registry.py`). A device's uploads are served by `sync/hub/visits.py` and its
rounds, its whole poll in one request, by `sync/hub/round.py`. The OpenAPI document is served at
`/openapi.json` (to enrolled devices too).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync.errors import HubStoreError
from sync.hub import metrics
from sync.hub.healthbuffer import HealthBuffer
from sync.hub.ingest import IngestRules
from sync.hub.limits import DEFAULT_LIMITS, BodyLimits
from sync.hub.registry import Device, NotEnrolled, Registry
from sync.hub.round import add_round
from sync.hub.roundcache import RoundCache
from sync.hub.store import DCC_REVOCATION_KIND, HubStore, Published
from sync.hub.visits import add_upload

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
    from starlette.types import ASGIApp, Receive, Scope, Send

PEER_CERT_KEY = "checkpoint.peer_cert"
log = logging.getLogger("sync.hub")
DEFAULT_RULES = IngestRules()
DEVICE_KEY = "checkpoint.device"


@dataclass(frozen=True)
class Peer:
    device_id: str
    serial: str
    public_key: CertificatePublicKeyTypes


class _Peers:
    """The identity and public key of each client certificate, parsed once (bounded cache)."""

    def __init__(self) -> None:
        self._cache: dict[bytes, Peer | str] = {}

    def get(self, der: bytes) -> Peer | str:
        hit = self._cache.get(der)
        if hit is None:
            from cryptography import x509

            from keys.deviceca import DeviceCAError, device_id_of

            try:
                cert = x509.load_der_x509_certificate(der)
                hit = Peer(device_id_of(der), format(cert.serial_number, "x"), cert.public_key())
            except (DeviceCAError, ValueError) as e:
                hit = str(e)
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[der] = hit
        return hit


Endpoint: TypeAlias = "Callable[[Request], Awaitable[Response]]"


def _unavailable(exc: HubStoreError) -> Response:
    # The database failing is the hub being unavailable (the device retries later), not a bug.
    log.error("%s", exc)
    return Response(json.dumps({"detail": f"hub database unavailable: {exc}"}), status_code=503,
                    media_type="application/json", headers={"Retry-After": "5"})


class EnrolmentGate:
    """ASGI middleware: every request, whatever its path, comes from an enrolled, unrevoked certificate.

    The registered `Device` and the `Peer` go into the scope for the handlers. `direct` endpoints (the
    device's round and upload) are called from here, not through the framework's router.
    """

    def __init__(self, app: ASGIApp, registry: Registry, direct: dict[tuple[str, str], Endpoint] | None = None):
        self.app = app
        self.registry = registry
        self.peers = _Peers()
        self.direct = {} if direct is None else direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        der = scope.get(PEER_CERT_KEY)
        peer = self.peers.get(der) if der else "a client certificate from the device CA is required"
        problem: str | None = peer if isinstance(peer, str) else None
        device = None
        if isinstance(peer, Peer):
            try:
                device = self.registry.cached(peer.device_id, peer.serial)
                if device is None:
                    device = await run_in_threadpool(self.registry.check, peer.device_id, peer.serial)
            except NotEnrolled as e:
                problem = str(e)
            except HubStoreError as e:  # the registry cannot be read: the hub is unavailable, not refusing
                await _unavailable(e)(scope, receive, send)
                return
        if problem is not None or device is None:
            status = 401 if not der else 403
            body = json.dumps({"detail": problem}).encode()
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        scope = {**scope, DEVICE_KEY: (device, peer)}
        endpoint = self.direct.get((scope["method"], scope["path"]))
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        # A device's polls and uploads skip the framework's routing and middleware (a good part of a
        # round's CPU); errors are answered as FastAPI answers them.
        try:
            response = await endpoint(Request(scope, receive))
        except StarletteHTTPException as e:
            response = JSONResponse({"detail": e.detail}, status_code=e.status_code, headers=e.headers)
        except HubStoreError as e:
            response = _unavailable(e)
        await response(scope, receive, send)


class _HubApi(FastAPI):
    """The hub API; a device's rounds and uploads (`direct`) skip the framework's middleware stack: they
    go through the metrics and the enrolment gate only (a tenth of a round's CPU otherwise)."""

    direct: ASGIApp | None = None
    direct_routes: frozenset[tuple[str, str]] = frozenset()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.direct is not None and scope["type"] == "http"
                and (scope["method"], scope["path"]) in self.direct_routes):
            await self.direct(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _who(request: Request) -> tuple[Device, Peer]:
    who: tuple[Device, Peer] = request.scope[DEVICE_KEY]
    return who


def create_app(store: HubStore, *, registry: Registry | None = None, enrolled: str | None = None,
               limits: BodyLimits = DEFAULT_LIMITS, rules: IngestRules = DEFAULT_RULES,
               admissions_window_s: float = 86_400, max_admissions: int = 10_000,
               health_records: HealthBuffer | None = None, list_window: float = 1.0) -> FastAPI:
    """The hub API over `store`; every request is checked against the device registry (`registry`, or
    one over the same database fed from `enrolled`, a device CA's enrolled.jsonl). Rounds keep health
    records in `health_records` (written behind; pending ones are written when the app shuts down) and read the
    published heads and site admissions at most once per `list_window` seconds."""
    records = health_records or HealthBuffer(store)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(records.close)

    app = _HubApi(title="Checkpoint reference hub", version="1", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Visit uploads from enrolled devices (mutual TLS); trust list and status "
                              "list distribution; one-request sync rounds; time and health.")
    registry = registry or Registry(store, enrolled_file=enrolled)

    @app.exception_handler(HubStoreError)
    async def database_unavailable(_request: Request, exc: HubStoreError) -> Response:
        return _unavailable(exc)

    # Outermost first: metrics see every answer, refusals by the enrolment gate too.
    direct: dict[tuple[str, str], Endpoint] = {}
    app.add_middleware(EnrolmentGate, registry=registry, direct=direct)
    app.add_middleware(metrics.RequestMetrics)
    cache = RoundCache(store, window=list_window, admissions_window_s=admissions_window_s,
                       max_admissions=max_admissions)
    direct["POST", "/v1/round"] = add_round(app, cache, records, lambda request: _who(request)[0])

    @app.get("/v1/health")
    def health() -> dict[str, str | float]:
        return {"status": "ok", "time": time.time()}

    @app.get("/v1/time")
    def hub_time() -> dict[str, float]:
        """The hub's clock (Unix seconds); devices record their offset to it."""
        return {"time": time.time()}

    direct["POST", "/v1/visits"] = add_upload(app, store, _who, limits, rules)
    # In front of the direct routes: the same metrics and gate as the middleware stack's (the gate's
    # fallback, the router, is never reached from here).
    app.direct = metrics.RequestMetrics(EnrolmentGate(app.router, registry, direct))
    app.direct_routes = frozenset(direct)

    @app.get("/v1/trust-list", responses={304: {"description": "not modified (If-None-Match)"},
                                          404: {"description": "nothing published"}})
    def trust_list(request: Request) -> Response:
        """The trust list published last, as its signed JWS document; conditional GET by ETag."""
        return _conditional(request, store.latest("trust"), "no trust list published")

    @app.get("/v1/rules", responses={304: {"description": "not modified (If-None-Match)"},
                                     404: {"description": "nothing published"}})
    def rules_list(request: Request) -> Response:
        """The rules list published last (business rules, rule sets, value sets) as its signed JWS document."""
        return _conditional(request, store.latest("rules"), "no rules list published")

    @app.get("/v1/dcc-revocation", responses={304: {"description": "not modified (If-None-Match)"},
                                              404: {"description": "nothing published"}})
    def dcc_revocation(request: Request) -> Response:
        """The EU DCC revocation list published last (hashes of revoked certificates), as its signed JWS
        document; conditional GET by ETag."""
        return _conditional(request, store.latest(DCC_REVOCATION_KIND), "no DCC revocation list published")

    @app.get("/v1/profiles", responses={304: {"description": "not modified (If-None-Match)"},
                                        404: {"description": "nothing published"}})
    def profiles(request: Request) -> Response:
        """Venue profile overrides published for devices (`{"version", "profiles"}`); conditional GET."""
        return _conditional(request, store.latest("profiles"), "no venue profiles published")

    @app.get("/v1/status")
    def status_index() -> dict[str, int]:
        """Issuers with published status lists and their latest versions."""
        return store.status_issuers()

    @app.get("/v1/status/{issuer}", responses={304: {"description": "already at the latest version"},
                                               404: {"description": "nothing published"}})
    def status_list(issuer: str, since: int | None = None) -> Response:
        """The delta whose base is `since` if one was published, else the latest snapshot."""
        latest = store.latest("status", issuer)
        if latest is None:
            raise HTTPException(404, f"no status list published for {issuer}")
        if since is not None and since >= latest.version:
            return Response(status_code=304)
        pub = store.delta_from(issuer, since) if since is not None else None
        pub = pub or store.latest_snapshot(issuer)
        if pub is None:
            raise HTTPException(404, f"no snapshot and no delta from {since} for {issuer}")
        return Response(pub.body, media_type="application/json",
                        headers={"ETag": pub.etag, "X-Version": str(pub.version),
                                 "X-Base": "" if pub.base is None else str(pub.base)})

    return app


def _conditional(request: Request, pub: Published | None, missing: str) -> Response:
    if pub is None:
        raise HTTPException(404, missing)
    if request.headers.get("if-none-match") == pub.etag:
        return Response(status_code=304, headers={"ETag": pub.etag})
    return Response(pub.body, media_type="application/json",
                    headers={"ETag": pub.etag, "X-Version": str(pub.version)})
