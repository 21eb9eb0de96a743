"""The hub's visit upload, `POST /v1/visits`: its documented models, the body's limits, the batch's
checkpoint signature and the store.

A batch the fast decoder (`sync/hub/uploadcodec.py`) accepts is stored from it; any other is read
through the pydantic models here, whose 422 names every problem. A device may only upload its own
visits, and a batch's signed checkpoint must verify with the key of the certificate it came with.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import msgspec
from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.concurrency import run_in_threadpool

from keys.jsontypes import JsonObject
from scanner.storage.chain import VISIT_FIELDS
from sync.hub import metrics
from sync.hub.ingest import IngestRules
from sync.hub.limits import (
    BodyLimits,
    BodyRefused,
    check_content_length,
    check_json_shape,
    decode_body,
    read_capped,
)
from sync.hub.store import HubStore
from sync.hub.uploadcodec import Batch, Checkpoint, decode_batch

if TYPE_CHECKING:
    from sync.hub.app import Peer
    from sync.hub.registry import Device

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
    # Rows the device salvaged from its damaged log (verbatim, under that log's id): the hub notes when the
    # log was first sent so (`logs.recovered_ms`, `checkpoint hub logs`).
    recovered: bool = False


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


def add_upload(app: FastAPI, store: HubStore, who: Callable[[Request], tuple[Device, Peer]], limits: BodyLimits,
               rules: IngestRules) -> Callable[[Request], Awaitable[Response]]:
    """Add the route; the endpoint is returned too (the hub serves it directly, `sync.hub.app`)."""
    @app.post("/v1/visits", response_model=UploadAck, openapi_extra={
        "requestBody": {"required": True, "description": "UploadBatch as JSON, optionally gzip-encoded "
                        "(Content-Encoding: gzip)",
                        "content": {"application/json": {"schema": UploadBatch.model_json_schema()}}}})
    async def upload(request: Request) -> Response:
        """Store a batch of visits. Idempotent per (device, log id, seq): a row already held is acknowledged,
        not stored twice; a different row under the same key is a reported conflict."""
        device, peer = who(request)
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
            # JSON text can hold a NUL only as the escape \u0000: without one, no row needs the look for it.
            res = store.upload(device_id, rows, log_id=batch.log_id, signed=signed, recovered=batch.recovered,
                               rules=replace(rules, checkpoints=device.checkpoints, site=device.site,
                                             nul_free=b"\\u0000" not in text))
            metrics.visits_ingested(res.stored)
            # The answer is encoded directly (the same fields as UploadAck, which documents it).
            return Response(msgspec.json.encode({
                "device_id": device_id, "received": len(rows), "stored": res.stored,
                "duplicates": res.duplicates, "acked": res.acked, "chain_breaks": res.chain_breaks,
                "log_id": res.log_id, "conflicts": res.conflicts, "refused": res.refused, "gaps": res.gaps,
                "last_seq": res.last_seq, "last_chain": res.last_chain}), media_type="application/json")

        return await run_in_threadpool(parse_and_store)

    return upload


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
                 Checkpoint(cp.seq, cp.chain, cp.signature) if cp else None, model.recovered)


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
