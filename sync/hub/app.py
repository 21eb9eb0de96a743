"""The hub's HTTP API (FastAPI): sync rounds, visit uploads, trust list, status lists, venue profiles, time, health.

Every endpoint sits behind mutual TLS (see `sync/hub/server.py`); the device id is the common name of
the verified client certificate, which the server puts into the ASGI scope under `PEER_CERT_KEY`. Every
request, whatever its path, must also come from a certificate the device registry allows
(`EnrolmentGate`, `sync/hub/registry.py`). A device may only upload its own visits; each batch's signed
checkpoint is verified with the certificate's key. `POST /v1/round` is a device's whole poll in one
request. The OpenAPI document is served at `/openapi.json` (to enrolled devices too).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from keys.jsontypes import JsonObject
from scanner.storage.chain import VISIT_FIELDS
from sync.errors import HubStoreError
from sync.hub import metrics
from sync.hub.healthbuffer import HealthBuffer
from sync.hub.ingest import IngestRules
from sync.hub.limits import (
    DEFAULT_LIMITS,
    BodyLimits,
    BodyRefused,
    check_content_length,
    check_json_shape,
    decode_body,
    read_capped,
)
from sync.hub.registry import Device, NotEnrolled, Registry
from sync.hub.round import add_round
from sync.hub.roundcache import RoundCache
from sync.hub.store import DCC_REVOCATION_KIND, HubStore, Published
from sync.hub.uploadcodec import Batch, Checkpoint, decode_batch

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
    from starlette.types import ASGIApp, Receive, Scope, Send

PEER_CERT_KEY = "checkpoint.peer_cert"
log = logging.getLogger("sync.hub")
DEFAULT_RULES = IngestRules()
HEX64 = r"^[0-9a-f]{64}$"


def _upload_visit_model() -> type[BaseModel]:
    """The upload model of one visit row, built from the row's one declaration (`VISIT_FIELDS`)."""
    fields: dict[str, Any] = {}
    for name, spec in VISIT_FIELDS.items():
        typ = spec[0] | None if isinstance(spec, tuple) else (dict[str, Any] if spec is dict else spec)
        # A nullable field may be left out (rows from devices older than the field).
        fields[name] = (typ, None if isinstance(spec, tuple) else ...)
    fields["seq"] = (int, Field(ge=1))
    fields["visit_id"] = (str, Field(min_length=1, max_length=64))
    fields["prev_chain"] = (str, Field(pattern=HEX64))
    fields["chain"] = (str, Field(pattern=HEX64))
    return create_model("UploadVisit", __config__=ConfigDict(extra="forbid", strict=True), **fields)


UploadVisit = _upload_visit_model()


class UploadCheckpoint(BaseModel):
    """The device key's signature over `checkpoint_message(device, log_id, seq, chain)`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seq: int = Field(ge=1)
    chain: str = Field(pattern=HEX64)
    signature: str = Field(max_length=200)


class UploadBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    visits: list[UploadVisit] = Field(max_length=10000)  # type: ignore[valid-type]
    checkpoint: UploadCheckpoint | None = None


class SeqReason(BaseModel):
    seq: int
    visit_id: str
    reason: str


class UploadAck(BaseModel):
    device_id: str
    received: int
    stored: int
    duplicates: int
    acked: list[str]
    chain_breaks: list[dict[str, Any]]
    log_id: str
    conflicts: list[SeqReason]
    refused: list[SeqReason]
    gaps: list[tuple[int, int]]
    last_seq: int | None
    last_chain: str | None


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
    verdicts_rules = rules

    @app.get("/v1/health")
    def health() -> dict[str, str | float]:
        return {"status": "ok", "time": time.time()}

    @app.get("/v1/time")
    def hub_time() -> dict[str, float]:
        """The hub's clock (Unix seconds); devices record their offset to it."""
        return {"time": time.time()}

    @app.post("/v1/visits", response_model=UploadAck, openapi_extra={
        "requestBody": {"required": True, "description": "UploadBatch as JSON, optionally gzip-encoded "
                        "(Content-Encoding: gzip)",
                        "content": {"application/json": {"schema": UploadBatch.model_json_schema()}}}})
    async def upload(request: Request) -> Response:
        """Store a batch of visits. Idempotent per (device, log id, seq): a row already held is acknowledged,
        not stored twice; a different row under the same key is a reported conflict."""
        device, peer = _who(request)
        device_id = device.device_id
        raw = await _body(request, limits)

        def parse_and_store() -> Response:
            # Off the event loop: inflating, parsing and the database never hold up another device's request.
            try:
                text = decode_body(raw, request.headers.get("content-encoding"), limits, shape=False)
                batch = decode_batch(text, limits)
                if batch is None:  # not accepted outright: the careful path says exactly why (or accepts)
                    check_json_shape(text, limits)
            except BodyRefused as e:
                raise HTTPException(e.status, e.detail) from None
            if batch is None:
                batch = _validated(text)
            rows = batch.rows
            others = sorted({str(r["device_id"]) for r in rows} - {device_id})
            if others:
                raise HTTPException(403, f"device {device_id} may not upload visits of {', '.join(others)}")
            signed = _signed(batch, rows, device_id, peer)
            res = store.upload(device_id, rows, log_id=batch.log_id, signed=signed,
                               rules=replace(verdicts_rules, checkpoints=device.checkpoints, site=device.site))
            metrics.visits_ingested(res.stored)
            # The answer is encoded directly (the same fields as UploadAck, which documents it).
            return Response(msgspec.json.encode({
                "device_id": device_id, "received": len(rows), "stored": res.stored,
                "duplicates": res.duplicates, "acked": res.acked, "chain_breaks": res.chain_breaks,
                "log_id": res.log_id, "conflicts": res.conflicts, "refused": res.refused, "gaps": res.gaps,
                "last_seq": res.last_seq, "last_chain": res.last_chain}), media_type="application/json")

        return await run_in_threadpool(parse_and_store)

    direct["POST", "/v1/visits"] = upload
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


async def _body(request: Request, limits: BodyLimits) -> bytes:
    try:
        check_content_length(request.headers.get("content-length"), limits)
        return await read_capped(request.stream(), limits)
    except BodyRefused as e:
        # Closing the connection stops the sender: the rest of its body is never read.
        raise HTTPException(e.status, e.detail, headers={"Connection": "close"}) from None


def _validated(text: bytes) -> Batch:
    """The batch through the API's pydantic model: a 422 that names every problem, or the batch."""
    try:
        model = UploadBatch.model_validate_json(text)
    except ValidationError as e:
        raise HTTPException(422, e.errors(include_url=False, include_input=False)) from None
    cp = model.checkpoint
    return Batch(model.log_id, [v.model_dump() for v in model.visits],  # type: ignore[attr-defined]
                 Checkpoint(cp.seq, cp.chain, cp.signature) if cp else None)


def _signed(batch: Batch, rows: list[JsonObject], device_id: str, peer: Peer) -> tuple[int, str] | None:
    """The batch's checkpoint, verified with the device certificate's key; a bad one refuses the batch."""
    from scanner.storage.chain import checkpoint_message, checkpoint_signature_ok

    cp = batch.checkpoint
    if cp is None:
        return None
    if batch.log_id is None:
        raise HTTPException(422, "a checkpoint needs the batch's log_id")
    mine = {r["seq"]: r["chain"] for r in rows}
    if mine.get(cp.seq) != cp.chain:
        raise HTTPException(422, f"checkpoint at seq {cp.seq} does not match the batch's row there")
    if not checkpoint_signature_ok(peer.public_key, checkpoint_message(device_id, batch.log_id, cp.seq, cp.chain),
                                   cp.signature):
        raise HTTPException(422, f"checkpoint at seq {cp.seq}: the signature does not verify with the device "
                                 "certificate's key")
    return cp.seq, cp.chain
