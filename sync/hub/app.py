"""The hub's HTTP API (FastAPI): visit uploads, trust list, status lists, venue profiles, time and health.

Every endpoint sits behind mutual TLS (see `sync/hub/server.py`); the device id is the common name of
the verified client certificate, which the server puts into the ASGI scope under `PEER_CERT_KEY`.
A device may only upload its own visits. The OpenAPI document is served at `/openapi.json`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.concurrency import run_in_threadpool

from scanner.storage.chain import VISIT_FIELDS
from sync.hub import metrics
from sync.hub.limits import DEFAULT_LIMITS, BodyLimits, BodyRefused, check_content_length, decode_body, read_capped
from sync.hub.round import add_round
from sync.hub.store import HubStore

PEER_CERT_KEY = "checkpoint.peer_cert"
HEX64 = r"^[0-9a-f]{64}$"


def _upload_visit_model() -> type[BaseModel]:
    """The upload model of one visit row, built from the row's one declaration (`VISIT_FIELDS`)."""
    fields: dict[str, Any] = {}
    for name, spec in VISIT_FIELDS.items():
        typ = spec[0] | None if isinstance(spec, tuple) else (dict[str, Any] if spec is dict else spec)
        fields[name] = (typ, ...)
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


class UploadAck(BaseModel):
    device_id: str
    received: int
    stored: int
    duplicates: int
    acked: list[str]
    chain_breaks: list[dict[str, Any]]


class Enrollment:
    """Optional registry of enrolled certificates (`enrolled.jsonl` of the device CA); re-read on change."""

    def __init__(self, path: str | None):
        self.path = Path(path) if path else None
        self._mtime = -1.0
        self._serials: set[tuple[str, str]] = set()

    def allows(self, device_id: str, serial: str) -> bool:
        if self.path is None:
            return True
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return False
        if mtime != self._mtime:
            entries = [json.loads(x) for x in self.path.read_text(encoding="utf-8").splitlines() if x.strip()]
            self._serials = {(str(e["device_id"]), str(e["serial"])) for e in entries}
            self._mtime = mtime
        return (device_id, serial) in self._serials


def _device(request: Request, enrollment: Enrollment) -> str:
    from cryptography import x509

    from keys.deviceca import DeviceCAError, device_id_of

    der = request.scope.get(PEER_CERT_KEY)
    if not der:
        raise HTTPException(401, "a client certificate from the device CA is required")
    try:
        device_id = device_id_of(der)
    except DeviceCAError as e:
        raise HTTPException(403, str(e)) from None
    serial = format(x509.load_der_x509_certificate(der).serial_number, "x")
    if not enrollment.allows(device_id, serial):
        raise HTTPException(403, f"device {device_id}: certificate {serial} is not enrolled")
    return device_id


def create_app(store: HubStore, *, enrolled: str | None = None, limits: BodyLimits = DEFAULT_LIMITS) -> FastAPI:
    app = FastAPI(title="Checkpoint reference hub", version="1",
                  description="Visit uploads from enrolled devices (mutual TLS); trust list and status "
                              "list distribution; time and health.")
    enrollment = Enrollment(enrolled)
    app.add_middleware(metrics.RequestMetrics)
    add_round(app, store, lambda request: _device(request, enrollment))

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "time": time.time()}

    @app.get("/v1/time")
    def hub_time() -> dict[str, float]:
        """The hub's clock (Unix seconds); devices record their offset to it."""
        return {"time": time.time()}

    @app.post("/v1/visits", response_model=UploadAck, openapi_extra={
        "requestBody": {"required": True, "description": "UploadBatch as JSON, optionally gzip-encoded "
                        "(Content-Encoding: gzip)",
                        "content": {"application/json": {"schema": UploadBatch.model_json_schema()}}}})
    async def upload(request: Request) -> UploadAck:
        """Store a batch of visits. Idempotent by visit id: duplicates are acknowledged, not stored twice."""
        device_id = _device(request, enrollment)
        try:
            check_content_length(request.headers.get("content-length"), limits)
            raw = await read_capped(request.stream(), limits)
        except BodyRefused as e:
            # Closing the connection stops the sender: the rest of its body is never read.
            raise HTTPException(e.status, e.detail, headers={"Connection": "close"}) from None

        def parse_and_store() -> UploadAck:
            # Off the event loop: inflating, parsing and SQLite never hold up another device's request.
            try:
                text = decode_body(raw, request.headers.get("content-encoding"), limits)
            except BodyRefused as e:
                raise HTTPException(e.status, e.detail) from None
            try:
                batch = UploadBatch.model_validate_json(text)
            except ValidationError as e:
                raise HTTPException(422, e.errors(include_url=False, include_input=False)) from None
            rows: list[dict[str, Any]] = [v.model_dump() for v in batch.visits]  # type: ignore[attr-defined]
            others = sorted({r["device_id"] for r in rows} - {device_id})
            if others:
                raise HTTPException(403, f"device {device_id} may not upload visits of {', '.join(others)}")
            res = store.upload(device_id, rows)
            metrics.visits_ingested(res.stored)
            return UploadAck(device_id=device_id, received=len(rows), stored=res.stored,
                             duplicates=res.duplicates, acked=res.acked, chain_breaks=res.chain_breaks)

        return await run_in_threadpool(parse_and_store)

    @app.get("/v1/trust-list", responses={304: {"description": "not modified (If-None-Match)"},
                                          404: {"description": "nothing published"}})
    def trust_list(request: Request) -> Response:
        """The trust list published last, as its signed JWS document; conditional GET by ETag."""
        _device(request, enrollment)
        pub = store.latest("trust")
        if pub is None:
            raise HTTPException(404, "no trust list published")
        if request.headers.get("if-none-match") == pub.etag:
            return Response(status_code=304, headers={"ETag": pub.etag})
        return Response(pub.body, media_type="application/json",
                        headers={"ETag": pub.etag, "X-Version": str(pub.version)})

    @app.get("/v1/rules", responses={304: {"description": "not modified (If-None-Match)"},
                                     404: {"description": "nothing published"}})
    def rules_list(request: Request) -> Response:
        """The rules list published last (business rules, rule sets, value sets) as its signed JWS document."""
        _device(request, enrollment)
        pub = store.latest("rules")
        if pub is None:
            raise HTTPException(404, "no rules list published")
        if request.headers.get("if-none-match") == pub.etag:
            return Response(status_code=304, headers={"ETag": pub.etag})
        return Response(pub.body, media_type="application/json",
                        headers={"ETag": pub.etag, "X-Version": str(pub.version)})

    @app.get("/v1/profiles", responses={304: {"description": "not modified (If-None-Match)"},
                                        404: {"description": "nothing published"}})
    def profiles(request: Request) -> Response:
        """Venue profile overrides published for devices (`{"version", "profiles"}`); conditional GET."""
        _device(request, enrollment)
        pub = store.latest("profiles")
        if pub is None:
            raise HTTPException(404, "no venue profiles published")
        if request.headers.get("if-none-match") == pub.etag:
            return Response(status_code=304, headers={"ETag": pub.etag})
        return Response(pub.body, media_type="application/json", headers={"ETag": pub.etag})

    @app.get("/v1/status")
    def status_index(request: Request) -> dict[str, int]:
        """Issuers with published status lists and their latest versions."""
        _device(request, enrollment)
        return store.status_issuers()

    @app.get("/v1/status/{issuer}", responses={304: {"description": "already at the latest version"},
                                               404: {"description": "nothing published"}})
    def status_list(issuer: str, request: Request, since: int | None = None) -> Response:
        """The delta whose base is `since` if one was published, else the latest snapshot."""
        _device(request, enrollment)
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
