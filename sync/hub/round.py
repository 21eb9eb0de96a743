"""`POST /v1/round`: one request per sync round: the hub's time, which lists changed, and the health record.

The device sends the versions it holds (`have`: trust list and profiles ETags, status list versions per
issuer) and its health record; the hub answers with its clock and what changed, and keeps the health
record (`sync.hub.devicehealth`). A malformed health record never fails the round.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from sync.hub.devicehealth import record_health
from sync.hub.limits import BodyLimits, BodyRefused, check_content_length, decode_body, read_capped
from sync.hub.store import HubStore

ROUND_LIMITS = BodyLimits(max_body=256 * 1024, max_inflated=256 * 1024, max_items=20_000)


def changed(store: HubStore, have: Any) -> dict[str, Any]:
    """Which published lists differ from what the device holds."""
    have = have if isinstance(have, dict) else {}
    held_status = have.get("status") if isinstance(have.get("status"), dict) else {}
    trust, profiles, rules = store.latest("trust"), store.latest("profiles"), store.latest("rules")
    return {"trust_list": trust is not None and have.get("trust_list") != trust.etag,
            "profiles": profiles is not None and have.get("profiles") != profiles.etag,
            "rules": rules is not None and have.get("rules") != rules.etag,
            "status": sorted(i for i, v in store.status_issuers().items()
                             if not isinstance(held_status.get(i), int) or held_status[i] < v)}


def add_round(app: FastAPI, store: HubStore, device_of: Callable[[Request], str]) -> None:
    @app.post("/v1/round")
    async def hub_round(request: Request) -> dict[str, Any]:
        """The hub's time and what changed since the device's versions; stores the device's health record."""
        device_id = device_of(request)
        try:
            check_content_length(request.headers.get("content-length"), ROUND_LIMITS)
            raw = await read_capped(request.stream(), ROUND_LIMITS)
            text = decode_body(raw, request.headers.get("content-encoding"), ROUND_LIMITS)
        except BodyRefused as e:
            raise HTTPException(e.status, e.detail, headers={"Connection": "close"}) from None
        try:
            body = json.loads(text)
        except ValueError:
            raise HTTPException(422, "round body is not JSON") from None
        if not isinstance(body, dict):
            raise HTTPException(422, "round body is not a JSON object")

        def work() -> dict[str, Any]:
            record_health(store, device_id, body.get("health"))
            return {"time": time.time(), "changed": changed(store, body.get("have")), "admissions": []}

        return await run_in_threadpool(work)
