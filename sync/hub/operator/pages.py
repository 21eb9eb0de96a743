"""The operator listener's app: login, fleet pages (devices, traffic, visits, publishing) and /metrics.

Every page but the login form needs a session (`sync.hub.operator.auth`); every form carries a CSRF
token checked on POST; cookies are HttpOnly and SameSite=Strict (and Secure when the listener is TLS).
Pages are rendered on the server from Jinja2 templates with autoescaping; no script runs in the page.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from keys.jsontypes import Json, JsonObject
from scanner.cli.times import parse_instant_ms
from scanner.errors import InputError
from sync.errors import HubStoreError, PublishError
from sync.hub import metrics
from sync.hub.devicehealth import DEFAULT_THRESHOLDS, Thresholds, history, judge, latest
from sync.hub.fleetstate import STATES, device_page, state_counts
from sync.hub.healthbuffer import HealthBuffer
from sync.hub.operator.auth import LoginThrottle, OperatorConfig, Sessions, same_text
from sync.hub.operator.chart import hour_chart
from sync.hub.operator.queries import device_ids, search_visits, traffic
from sync.hub.publish import (
    publish_dcc_revocation,
    publish_profiles,
    publish_rules_list,
    publish_status_list,
    publish_trust_list,
)
from sync.hub.store import DCC_REVOCATION_KIND, HubStore
from sync.hub.traffic import HOUR_MS

TEMPLATES = Path(__file__).parent / "templates"
MAX_PUBLISH = 64 * 1024 * 1024
MAX_FORM = MAX_PUBLISH + 64 * 1024  # a publish form: the file and its multipart framing
# The login form (a name, a password of at most 1,024 characters, the CSRF token), percent-encoded: the one form
# anybody may send, so it is held to its own size.
MAX_LOGIN_FORM = 32 * 1024
SHOWN = 500  # devices listed on one page (the counts cover the whole fleet)
PUBLISHERS = {"trust-list": publish_trust_list, "status-list": publish_status_list, "rules-list": publish_rules_list,
              "dcc-revocation": publish_dcc_revocation, "profiles": publish_profiles}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    "X-Frame-Options": "DENY"}


class NeedLogin(Exception):
    pass


def utc(ms: int | float | None) -> str:
    if ms is None:
        return "–"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = abs(seconds)
    text = f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else \
        f"{s / 3600:.0f} h" if s < 172800 else f"{s / 86400:.0f} d"
    return text


def show(value: Json) -> str:
    """A health record value in words: nested objects as `key value` pairs, booleans as yes/no."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {show(v)}" for k, v in value.items()) or "–"
    if isinstance(value, list):
        return ", ".join(show(v) for v in value) or "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "–" if value is None else str(value)


def parse_when(value: str | None, default_ms: int) -> int:
    """A `datetime-local` value (read as UTC) or Unix seconds, in milliseconds."""
    if not value:
        return default_ms
    try:
        return parse_instant_ms(value, "time")
    except InputError:
        raise HTTPException(400, f"not a time: {value[:40]!r} (use YYYY-MM-DDTHH:MM, UTC)") from None


def create_operator_app(store: HubStore, config: OperatorConfig, *, thresholds: Thresholds = DEFAULT_THRESHOLDS,
                        secure_cookies: bool = False, health: HealthBuffer | None = None) -> FastAPI:
    """The operator pages over `store`; `health`: the device API's write-behind buffer in this process,
    written out before each page, so a page shows every round this process has answered."""
    app = FastAPI(title="Checkpoint hub operator pages", docs_url=None, redoc_url=None, openapi_url=None)

    if health is not None:
        pending = health

        @app.middleware("http")
        async def health_written(request: Request,
                                 call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            if pending.pending():
                with contextlib.suppress(HubStoreError):  # the page's own reads then say what is wrong
                    await run_in_threadpool(pending.flush)
            response: Response = await call_next(request)
            return response
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.filters.update(utc=utc, ago=ago, show=show)
    sessions = Sessions(config)
    throttle = LoginThrottle()

    @app.middleware("http")
    async def judged_before_read(request: Request,
                                 call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """What can be judged from the request line and headers is, before the body is read: a form
        post from nobody logged in (a publish upload would otherwise be spooled to disk first), a body
        without a length or over the limit, a NUL in the address (no device id, site or time holds one,
        and PostgreSQL refuses one in any text it is asked about)."""
        if "\x00" in request.url.path or b"%00" in request.scope.get("query_string", b""):
            return page(request, "error.html", 400, title="Error", who=None,
                        message="the address holds a NUL character (%00)")
        if request.method == "POST":
            # Answered without reading the body, the connection is closed: the sender stops sending.
            refused: Response | None = None
            length = request.headers.get("content-length", "")
            login = request.url.path == "/login"
            if not login and sessions.operator(request.cookies.get(Sessions.COOKIE)) is None:
                refused = RedirectResponse("/login", status_code=303)
            elif not (length.isascii() and length.isdigit()):
                refused = page(request, "error.html", 411, title="Error", who=None,
                               message="a form must declare its length (Content-Length)")
            elif int(length) > (MAX_LOGIN_FORM if login else MAX_FORM):
                refused = page(request, "error.html", 413, title="Error", who=None,
                               message=f"a login form larger than {MAX_LOGIN_FORM // 1024} KiB" if login
                               else f"larger than {MAX_PUBLISH // (1024 * 1024)} MiB")
            if refused is not None:
                refused.headers["Connection"] = "close"
                return refused
        response: Response = await call_next(request)
        return response

    @app.middleware("http")
    async def security_headers(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response: Response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    @app.exception_handler(NeedLogin)
    async def to_login(request: Request, exc: NeedLogin) -> Response:
        return RedirectResponse("/login", status_code=303)

    def cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                            secure=secure_cookies, path="/")

    def operator(request: Request) -> tuple[str, str]:
        """(operator name, CSRF token for this page's forms), or off to the login page."""
        raw = request.cookies.get(Sessions.COOKIE)
        name = sessions.operator(raw)
        if name is None or raw is None:
            raise NeedLogin()
        return name, sessions.csrf(raw)

    def check_csrf(request: Request, token: str | None, cookie_name: str = Sessions.COOKIE) -> None:
        if not sessions.csrf_ok(request.cookies.get(cookie_name), token):
            raise HTTPException(403, "form expired or not from this site (CSRF token missing or wrong)")

    def page(request: Request, name: str, http_status: int = 200, **ctx: object) -> HTMLResponse:
        return templates.TemplateResponse(request, name, ctx, status_code=http_status)

    @app.exception_handler(HTTPException)
    async def error_page(request: Request, exc: HTTPException) -> Response:
        return page(request, "error.html", exc.status_code, title="Error", message=str(exc.detail),
                    who=None)

    @app.exception_handler(HubStoreError)
    async def database_unavailable(request: Request, exc: HubStoreError) -> Response:
        return page(request, "error.html", 503, title="Error", who=None, message=f"hub database unavailable: {exc}")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted({".".join(str(x) for x in e.get("loc", ())[1:]) or "request" for e in exc.errors()})
        return page(request, "error.html", 422, title="Error", who=None,
                    message=f"missing or invalid: {', '.join(fields)}")

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        nonce = request.cookies.get(Sessions.LOGIN_COOKIE) or secrets.token_urlsafe(24)
        response = page(request, "login.html", title="Log in", csrf=sessions.csrf(nonce), who=None, failed=None)
        cookie(response, Sessions.LOGIN_COOKIE, nonce, max_age=3600)
        return response

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request, name: str = Form(max_length=200), password: str = Form(max_length=1024),
                    csrf: str = Form("", max_length=200)) -> Response:
        check_csrf(request, csrf, Sessions.LOGIN_COOKIE)
        address = request.client.host if request.client else None
        nonce = request.cookies.get(Sessions.LOGIN_COOKIE, "")
        # Asked before the password is checked (no scrypt work for a waiting address) and again after,
        # so attempts sent side by side get no more answers than those sent one after another.
        wait = throttle.wait(address)
        token = await run_in_threadpool(sessions.login, name, password) if not wait else None
        wait = wait or throttle.wait(address)
        if wait:
            slow = page(request, "login.html", 429, title="Log in", csrf=sessions.csrf(nonce), who=None,
                        failed=f"Too many failed logins from this address: try again in {wait} s.")
            slow.headers["Retry-After"] = str(wait)
            return slow
        if token is None:
            throttle.failed(address)
            return page(request, "login.html", 401, title="Log in", csrf=sessions.csrf(nonce), who=None,
                        failed="Wrong name or password.")
        throttle.succeeded(address)
        response = RedirectResponse("/", status_code=303)
        cookie(response, Sessions.COOKIE, token, max_age=config.session_seconds)
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("", max_length=200)) -> Response:
        check_csrf(request, csrf)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(Sessions.COOKIE, path="/", httponly=True, samesite="strict", secure=secure_cookies)
        return response

    @app.get("/", response_class=HTMLResponse)
    def devices(request: Request, attention: bool = False, state: str = "", q: str = "",
                page_no: Annotated[int, Query(alias="page")] = 1) -> Response:
        who, csrf = operator(request)
        now = time.time()
        if state and state not in STATES:
            raise HTTPException(422, f"unknown device state {state!r}: one of {', '.join(STATES)}")
        q = q.strip()[:100]
        # States, counts, the order and the page come from SQL; only the devices shown get their problems worded.
        counts = state_counts(store, now, thresholds)
        listed = device_page(store, now, thresholds, attention=attention, state=state or None, match=q,
                             page=min(max(page_no, 1), 1_000_000), per_page=SHOWN)
        rows = [{"h": h, "r": h.record, "j": judge(h, now, thresholds), "seen_ago": now - h.received_ms / 1000}
                for h, _ in listed.rows]
        return page(request, "devices.html", title="Devices", who=who, csrf=csrf, rows=rows, counts=counts,
                    attention=attention, state=state, q=q, listing=listed, total=sum(counts.values()), states=STATES)

    @app.get("/devices/{device_id}", response_class=HTMLResponse)
    def device(request: Request, device_id: str) -> Response:
        who, csrf = operator(request)
        h = latest(store, device_id)
        if h is None:
            raise HTTPException(404, f"no health record from device {device_id!r}")
        now = time.time()
        return page(request, "device.html", title=device_id, who=who, csrf=csrf, h=h, r=h.record,
                    j=judge(h, now, thresholds), seen_ago=now - h.received_ms / 1000,
                    history=history(store, device_id))

    @app.get("/traffic", response_class=HTMLResponse)
    def traffic_page(request: Request, hours: int = 24) -> Response:
        who, csrf = operator(request)
        hours = min(max(hours, 1), 24 * 7)
        until = (int(time.time() * 1000) // HOUR_MS + 1) * HOUR_MS
        sites = traffic(store, until - hours * HOUR_MS, until)
        charts = [{"site": site, "chart": hour_chart(hs, lambda ms: utc(ms)[11:13] + "h"),
                   "admitted": sum(x.admitted for x in hs), "refused": sum(x.refused for x in hs),
                   "manual": sum(x.manual for x in hs)} for site, hs in sites.items()]
        return page(request, "traffic.html", title="Traffic", who=who, csrf=csrf, charts=charts, hours=hours)

    @app.get("/visits", response_class=HTMLResponse)
    def visits(request: Request, device: str = "", since: str = "", until: str = "") -> Response:
        who, csrf = operator(request)
        now_ms = int(time.time() * 1000)
        since_ms = parse_when(since, now_ms - 24 * HOUR_MS)
        until_ms = parse_when(until, now_ms + 60_000)
        result = search_visits(store, device, since_ms, until_ms) if device else None
        offered, reporting = device_ids(store)
        return page(request, "visits.html", title="Visits", who=who, csrf=csrf, device=device,
                    since=utc(since_ms)[:16].replace(" ", "T"), until=utc(until_ms)[:16].replace(" ", "T"),
                    result=result, devices=offered, reporting=reporting,
                    gap_after={a - 1: (a, b) for a, b in result.gaps} if result else {},
                    refused_after={a - 1: (a, b, why) for a, b, why in result.refused} if result else {})

    @app.get("/publish", response_class=HTMLResponse)
    def publish_form(request: Request) -> Response:
        who, csrf = operator(request)
        return page(request, "publish.html", title="Publish", who=who, csrf=csrf, **_published(store))

    @app.post("/publish/{kind}", response_class=HTMLResponse)
    async def publish(request: Request, kind: str, file: Annotated[UploadFile, File()],
                      csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
        who, token = operator(request)
        check_csrf(request, csrf)
        if kind not in PUBLISHERS:
            raise HTTPException(404, f"nothing to publish as {kind!r}")
        data = await file.read(MAX_PUBLISH + 1)
        name = Path(file.filename or "upload").name[:100]
        if len(data) > MAX_PUBLISH:
            outcome, ok = f"{name}: larger than {MAX_PUBLISH // (1024 * 1024)} MiB", False
        else:
            outcome, ok = await run_in_threadpool(_publish_bytes, store, kind, name, data)
        return page(request, "publish.html", 200 if ok else 422, title="Publish", who=who, csrf=token,
                    outcome=outcome, ok=ok, **_published(store))

    @app.get("/metrics")
    def metrics_page(request: Request) -> Response:
        bearer = request.headers.get("authorization", "")
        token_ok = bool(config.metrics_token) and same_text(bearer, f"Bearer {config.metrics_token}")
        if not token_ok and sessions.operator(request.cookies.get(Sessions.COOKIE)) is None:
            return Response("log in or send the metrics token\n", status_code=401, media_type="text/plain",
                            headers={"WWW-Authenticate": "Bearer"})
        return Response(metrics.render(store, thresholds), media_type=metrics.CONTENT_TYPE)

    return app


def _publish_bytes(store: HubStore, kind: str, name: str, data: bytes) -> tuple[str, bool]:
    """Publish an uploaded file through the CLI's own function (same checks), from a private temp file."""
    suffix = Path(name).suffix if kind == "profiles" else ".json"
    with tempfile.TemporaryDirectory(prefix="checkpoint-publish-") as d:
        path = Path(d) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            pub = PUBLISHERS[kind](store, path)
        except PublishError as e:
            return str(e).replace(str(path), name), False
    what = {"trust-list": "trust list", "status-list": f"status list {pub.issuer}", "rules-list": "rules list",
            "dcc-revocation": "DCC revocation list", "profiles": "venue profiles"}
    return f"published {what[kind]} version {pub.version} from {name}", True


def _published(store: HubStore) -> JsonObject:
    trust, profiles = store.latest("trust"), store.latest("profiles")
    rules, revocation = store.latest("rules"), store.latest(DCC_REVOCATION_KIND)
    return {"trust": trust.version if trust else None, "profiles": profiles.version if profiles else None,
            "rules": rules.version if rules else None, "dcc_revocation": revocation.version if revocation else None,
            "status": store.status_issuers()}
