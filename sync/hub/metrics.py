"""The hub's Prometheus metrics: uploads, visits ingested, refused uploads by reason, request latency,
devices by state.

Counters and histograms live in the process that served the request. When the hub runs several worker
processes, `PROMETHEUS_MULTIPROC_DIR` (set before the workers start) makes prometheus-client keep them in
shared files, and `render` adds them up across processes. Devices by state is read from the database at
scrape time, so every process gives the same answer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from sync.hub.devicehealth import Thresholds
from sync.hub.fleetstate import state_counts
from sync.hub.store import HubStore

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)
UPLOADS = Counter("checkpoint_hub_uploads_total", "Visit upload batches accepted", registry=REGISTRY)
VISITS = Counter("checkpoint_hub_visits_ingested_total", "Visits stored (duplicates not counted)",
                 registry=REGISTRY)
REFUSED = Counter("checkpoint_hub_uploads_refused_total", "Visit uploads refused, by reason", ["reason"],
                  registry=REGISTRY)
LATENCY = Histogram("checkpoint_hub_request_seconds", "Device API request latency", ["route", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0), registry=REGISTRY)

# Why an upload was refused, by the HTTP status the hub answered with.
REFUSAL_REASONS = {400: "malformed_body", 401: "no_certificate", 403: "forbidden", 413: "too_large",
                   415: "unsupported_encoding", 422: "invalid_batch"}
ROUTES = ("/v1/visits", "/v1/round", "/v1/trust-list", "/v1/profiles", "/v1/status", "/v1/time", "/v1/health")
CONTENT_TYPE = CONTENT_TYPE_LATEST


# The latency histogram's child per (path, status) seen, so a request skips the label lookup.
_LATENCY_CHILDREN: dict[tuple[str, int], Histogram] = {}


def visits_ingested(stored: int) -> None:
    VISITS.inc(stored)


def _route(path: str) -> str:
    for r in ROUTES:
        if path == r or path.startswith(r + "/"):
            return r + ("/{issuer}" if path != r else "")
    return "other"


class RequestMetrics:
    """ASGI middleware on the device API: latency per route and status; uploads accepted or refused."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = scope.get("path", "")
            key = (path, status[0])
            child = _LATENCY_CHILDREN.get(key)
            if child is None:
                child = LATENCY.labels(_route(path), str(status[0]))
                if len(_LATENCY_CHILDREN) < 1000:  # paths with an issuer in them are many; keep the common
                    _LATENCY_CHILDREN[key] = child
            child.observe(time.perf_counter() - t0)
            if path == "/v1/visits" and scope.get("method") == "POST":
                if status[0] == 200:
                    UPLOADS.inc()
                else:
                    REFUSED.labels(REFUSAL_REASONS.get(status[0], f"http_{status[0]}")).inc()


class DevicesByState(Collector):
    """`checkpoint_hub_devices{state=ok|attention|offline}` from the latest health records."""

    def __init__(self, store: HubStore, thresholds: Thresholds, clock: Callable[[], float] = time.time):
        self.store, self.thresholds, self.clock = store, thresholds, clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = state_counts(self.store, self.clock(), self.thresholds)
        g = GaugeMetricFamily("checkpoint_hub_devices", "Devices by state (latest health record)", labels=["state"])
        for state, n in counts.items():
            g.add_metric([state], n)
        yield g


def render(store: HubStore, thresholds: Thresholds) -> bytes:
    """The metrics page: this process's (or all workers') counters, and devices by state."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(DevicesByState(store, thresholds))
    return generate_latest(registry)


class _Forward(Collector):
    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()
