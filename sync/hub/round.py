"""`POST /v1/round`: a device's whole poll in one request.

The device sends the versions it holds (`have`: trust list, venue profiles, rules and DCC revocation list
ETags, status list versions per issuer) and its health record. The hub answers with its clock, which lists changed (the
published heads, so the device fetches only those), and the code ids admitted at the device's site
recently (gate-to-gate anti-passback, from `site_admissions`); both come from a copy at most a second
old (`sync.hub.roundcache`). It keeps the health record (`sync.hub.devicehealth`), whose time is the
device's last contact, written behind within a quarter of a second (`sync.hub.healthbuffer`). A
malformed health record never fails the round.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from sync.hub.healthbuffer import HealthBuffer
from sync.hub.limits import BodyLimits, BodyRefused, check_content_length, decode_body, read_capped
from sync.hub.registry import Device
from sync.hub.roundcache import Heads, RoundCache, SiteAdmissions
from sync.hub.store import DCC_REVOCATION_KIND

# A round's body: the versions held and a health record (the agent sends about 1 KiB).
ROUND_LIMITS = BodyLimits(max_body=256 * 1024, max_inflated=256 * 1024, max_depth=8, max_items=20_000)


class RoundHave(BaseModel):
    model_config = ConfigDict(extra="ignore")

    trust_list: str | None = Field(default=None, max_length=200)
    profiles: str | None = Field(default=None, max_length=200)
    rules: str | None = Field(default=None, max_length=200)
    dcc_revocation: str | None = Field(default=None, max_length=200)
    status: dict[str, int | None] = Field(default_factory=dict, max_length=1000)
    # The `admissions_until` and `admissions_site` of the last answer whose admissions the device keeps:
    # if the device is still placed at that site, send only what was received since.
    admissions_since: int | None = Field(default=None, ge=0, le=2**62)
    admissions_site: str | None = Field(default=None, max_length=200)


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
    # The hub's time (ms) the admissions were read, and the site they are of: the device's next
    # `have.admissions_since` and `have.admissions_site`. The admissions are those received since the
    # device's `admissions_since` if it sent one for this site, else all of the window.
    admissions_until: int
    admissions_site: str | None


def answer_round(heads: Heads, admissions: SiteAdmissions, req: RoundRequest) -> bytes:
    """The round's answer (`RoundAnswer` as JSON) from the published heads and the site's admissions."""

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
        "admissions": [{"code_id": c, "ts_ms": int(t), "device_id": d}
                       for c, t, d, _ in admissions.since(req.have.admissions_since, req.have.admissions_site)],
        "admissions_until": admissions.read_ms, "admissions_site": admissions.site})


# Bodies up to this size are parsed on the event loop (tens of microseconds); larger ones in a worker
# thread, so a large body never holds up other devices' requests.
_INLINE_BODY = 16 * 1024


def _parse(raw: bytes, content_encoding: str | None) -> RoundRequest:
    try:
        text = decode_body(raw, content_encoding, ROUND_LIMITS)
        return RoundRequest.model_validate_json(text)
    except BodyRefused as e:
        raise HTTPException(e.status, e.detail) from None
    except ValidationError as e:
        raise HTTPException(422, e.errors(include_url=False, include_input=False)) from None


def add_round(app: FastAPI, cache: RoundCache, health: HealthBuffer,
              device_of: Callable[[Request], Device]) -> Callable[[Request], Awaitable[Response]]:
    """Add the route; the endpoint is returned too (the hub serves it directly, `sync.hub.app`)."""
    @app.post("/v1/round", response_model=RoundAnswer, openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": RoundRequest.model_json_schema()}}}})
    async def hub_round(request: Request) -> Response:
        """The hub's time, which lists changed since the device's versions, the admissions at its site;
        keeps the device's health record."""
        device = device_of(request)
        try:
            check_content_length(request.headers.get("content-length"), ROUND_LIMITS)
            raw = await read_capped(request.stream(), ROUND_LIMITS)
        except BodyRefused as e:
            raise HTTPException(e.status, e.detail, headers={"Connection": "close"}) from None
        encoding = request.headers.get("content-encoding")
        req = _parse(raw, encoding) if len(raw) <= _INLINE_BODY else await run_in_threadpool(_parse, raw, encoding)
        # The heads and admissions of the last second and the health record kept for the next write:
        # a round usually touches no database at all (`sync.hub.roundcache`, `sync.hub.healthbuffer`).
        known = cache.fresh(device.site)
        heads, admissions = known if known is not None else await run_in_threadpool(cache.load, device.site)
        if not health.add(device.device_id, req.health, int(time.time() * 1000)):
            await run_in_threadpool(health.flush)
        return Response(answer_round(heads, admissions, req), media_type="application/json")

    return hub_round
