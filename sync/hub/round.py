"""`POST /v1/round`: a device's whole poll in one request.

The device sends the versions it holds (`have`: trust list, venue profiles, rules and DCC revocation list
ETags, status list versions per issuer) and its health record. The hub answers with its clock, which lists changed (one
query over the published heads, so the device fetches only those), and the code ids admitted at the
device's site recently (gate-to-gate anti-passback, from `site_admissions`); it keeps the health record
(`sync.hub.devicehealth`), whose time is the device's last contact. A malformed health record never
fails the round.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from sync.hub.devicehealth import PREVIOUS, health_writes
from sync.hub.limits import BodyLimits, BodyRefused, check_content_length, decode_body, read_capped
from sync.hub.registry import Device
from sync.hub.store import DCC_REVOCATION_KIND, HEADS, HubStore, heads_of

# A round's body: the versions held and a health record (the agent sends about 1 KiB).
ROUND_LIMITS = BodyLimits(max_body=256 * 1024, max_inflated=256 * 1024, max_depth=8, max_items=20_000)


class RoundHave(BaseModel):
    model_config = ConfigDict(extra="ignore")

    trust_list: str | None = Field(default=None, max_length=200)
    profiles: str | None = Field(default=None, max_length=200)
    rules: str | None = Field(default=None, max_length=200)
    dcc_revocation: str | None = Field(default=None, max_length=200)
    status: dict[str, int | None] = Field(default_factory=dict, max_length=1000)


class RoundRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    have: RoundHave = Field(default_factory=RoundHave)
    health: Any = None


class RoundChanged(BaseModel):
    trust_list: bool
    profiles: bool
    rules: bool
    dcc_revocation: bool
    status: list[str]


class Admission(BaseModel):
    code_id: str
    ts_ms: int
    device_id: str


class RoundAnswer(BaseModel):
    time: float
    changed: RoundChanged
    admissions: list[Admission]


def answer_round(store: HubStore, device: Device, req: RoundRequest, *, admissions_window_s: float,
                 max_admissions: int) -> bytes:
    """The round's answer (`RoundAnswer` as JSON); the health record is kept in the same transaction."""
    now_ms = int(time.time() * 1000)
    reads: list[tuple[str, tuple[object, ...]]] = [(HEADS, ()), (PREVIOUS, (device.device_id, device.device_id))]
    if device.site:
        reads.append(("SELECT code_id, ts_ms, device_id FROM site_admissions WHERE site = ? AND ts_ms >= ? "
                      f"ORDER BY ts_ms DESC LIMIT {int(max_admissions)}",
                      (device.site, now_ms - int(admissions_window_s * 1000))))
    # One transaction, two trips to the database (reads, then the health record's writes); the record is
    # the device's last contact, and a crash losing the latest one costs nothing: no disk wait.
    with store.db.transaction(durable=False) as tx:
        got = tx.execute_all(reads)
        _, writes = health_writes(device.device_id, req.health, got[1][0], now_ms)
        tx.execute_all(writes)
    heads = heads_of(got[0])
    admissions = got[2] if device.site else []

    def differs(kind: str, etag: str | None) -> bool:
        head = heads.get((kind, ""))
        return head is not None and head[1] != etag

    status = {issuer: top for (kind, issuer), (_, _, top) in heads.items() if kind == "status"}
    held = req.have.status
    # Encoded directly: the same fields as RoundAnswer, which documents them.
    return msgspec.json.encode({"time": time.time(), "changed": {
        "trust_list": differs("trust", req.have.trust_list), "profiles": differs("profiles", req.have.profiles),
        "rules": differs("rules", req.have.rules),
        "dcc_revocation": differs(DCC_REVOCATION_KIND, req.have.dcc_revocation),
        "status": sorted(i for i, v in status.items() if held.get(i) is None or v > (held[i] or 0))},
        "admissions": [{"code_id": c, "ts_ms": int(t), "device_id": d} for c, t, d in admissions]})


def add_round(app: FastAPI, store: HubStore, device_of: Callable[[Request], Device], *,
              admissions_window_s: float = 86_400,
              max_admissions: int = 10_000) -> Callable[[Request], Awaitable[Response]]:
    """Add the route; the endpoint is returned too (the hub serves it directly, `sync.hub.app`)."""
    @app.post("/v1/round", response_model=RoundAnswer, openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": RoundRequest.model_json_schema()}}}})
    async def hub_round(request: Request) -> Response:
        """The hub's time, which lists changed since the device's versions, the admissions at its site;
        stores the device's health record."""
        device = device_of(request)
        try:
            check_content_length(request.headers.get("content-length"), ROUND_LIMITS)
            raw = await read_capped(request.stream(), ROUND_LIMITS)
        except BodyRefused as e:
            raise HTTPException(e.status, e.detail, headers={"Connection": "close"}) from None

        def work() -> Response:
            try:
                text = decode_body(raw, request.headers.get("content-encoding"), ROUND_LIMITS)
                req = RoundRequest.model_validate_json(text)
            except BodyRefused as e:
                raise HTTPException(e.status, e.detail) from None
            except ValidationError as e:
                raise HTTPException(422, e.errors(include_url=False, include_input=False)) from None
            return Response(answer_round(store, device, req, admissions_window_s=admissions_window_s,
                                         max_admissions=max_admissions), media_type="application/json")

        return await run_in_threadpool(work)

    return hub_round
