"""The sync agent: a separate process that uploads the visit log and keeps trust data fresh.

One round (`run_once`) talks to the hub over mutual TLS:

1. reads the hub's time and records the clock offset (every contact);
2. uploads the outbox in gzip JSON batches; rows are marked synced only after the hub acknowledged
   them (idempotent by visit id, so a batch resent after a lost answer is never stored twice);
3. fetches the trust list with a conditional GET (ETag) and hands it to `TrustStore.update`, which
   refuses a tampered or rolled-back list and keeps the cached one;
4. fetches each accepted issuer's status list with `since=` its held version (a delta if the hub has
   one on that base, else a snapshot) and applies it with `StatusStore.apply`;
   then venue profile overrides, if the hub publishes any (checked, newer versions only);
5. purges synced visits past the retention, and writes `sync-status.json` for the kiosk.

`run` repeats rounds every `sync.interval` seconds; after a failure it waits with exponential backoff
and jitter, capped at `sync.backoff_max`. A failed request is all it takes to be "offline": nothing is
guessed from interfaces or pings. Under systemd it sends READY/WATCHDOG/STATUS notifications.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from keys.durable import atomic_write_json
from scanner.errors import CheckpointError
from scanner.storage.datadir import VENUE_PROFILES_FILE
from scanner.storage.syncstate import SyncStatus, read_status, take_sync_request, write_status
from sync.errors import HubRefused, HubUnavailable, SyncConfigError

log = logging.getLogger(__name__)

# How often the waiting agent looks for a "sync now" request from the kiosk, in seconds.
REQUEST_POLL = 1.0
MAX_STATUS_STEPS = 10
# Venue profile overrides from the hub, `{"version", "profiles": {NAME: {profile, outcomes}}}`, in the
# same shape as a settings file's `[profiles.NAME]` tables; the kiosk merges them under its own settings.
PROFILES_FILE = VENUE_PROFILES_FILE


def backoff_delay(failures: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, never above `cap`."""
    if failures <= 0:
        return 0.0
    d = min(cap, base * 2 ** min(failures - 1, 30))
    return d / 2 + rng.uniform(0, d / 2)


@dataclass
class AgentConfig:
    url: str
    client_cert: str
    client_key: str
    ca_cert: str
    data_dir: Path
    device_id: str
    batch_size: int = 500
    timeout: float = 10.0
    interval: float = 30.0
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    retention_days: int = 28
    anchors: list[str] = field(default_factory=list)
    # How often `run` pings the systemd watchdog while it waits (at least twice per WatchdogSec).
    watchdog_ping: float = 5.0

    @classmethod
    def from_settings(cls, settings: Any) -> AgentConfig:
        hub = settings.hub
        missing = [k for k in ("url", "client_cert", "client_key", "ca_cert") if not getattr(hub, k)]
        if missing:
            raise SyncConfigError(f"{settings.source}: [hub] {', '.join(missing)} not set: the agent needs the "
                                  "hub URL and the device's certificate, key and the hub CA")
        for k in ("client_cert", "client_key", "ca_cert"):
            if not Path(getattr(hub, k)).is_file():
                raise SyncConfigError(f"{settings.source}: hub.{k}: {getattr(hub, k)}: no such file")
        return cls(url=hub.url.rstrip("/"), client_cert=hub.client_cert, client_key=hub.client_key,
                   ca_cert=hub.ca_cert, data_dir=settings.data_dir, device_id=settings.device.id,
                   batch_size=settings.sync.batch_size, timeout=settings.sync.timeout,
                   interval=settings.sync.interval, backoff_max=settings.sync.backoff_max,
                   retention_days=settings.log.retention_days, anchors=list(settings.trust.anchors))


@dataclass
class RoundReport:
    uploaded: int = 0
    duplicates: int = 0
    chain_breaks: int = 0
    trust_list: str = "unchanged"
    status_lists: dict[str, str] = field(default_factory=dict)
    profiles: str = "unchanged"
    purged: int = 0


class SyncAgent:
    def __init__(self, config: AgentConfig, visit_log: Any, trust: Any = None, status: Any = None, *,
                 notify: Callable[[str], bool] | None = None, rng: random.Random | None = None):
        self.config = config
        self.log = visit_log
        self.trust = trust
        self.status_store = status
        self.notify = notify or (lambda _state: False)
        self.rng = rng or random.Random()
        self.state = read_status(config.data_dir) or SyncStatus()
        self._session: requests.Session | None = None

    # -- HTTP ---------------------------------------------------------------------------------------

    def _http(self) -> requests.Session:
        if self._session is None:
            s = requests.Session()
            # The appliance's settings decide the CA and proxies, not the process environment
            # (REQUESTS_CA_BUNDLE would silently replace the pinned hub CA).
            s.trust_env = False
            s.verify = self.config.ca_cert
            s.cert = (self.config.client_cert, self.config.client_key)
            self._session = s
        return self._session

    def close(self) -> None:
        """Close pooled connections to the hub."""
        self._reset()

    def _reset(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _request(self, method: str, path: str, **kw: Any) -> requests.Response:
        try:
            return self._request_once(method, path, **kw)
        finally:
            # Every request is bounded by the timeout; one that ended (either way) proves the agent lives.
            self.notify("WATCHDOG=1")

    def _request_once(self, method: str, path: str, **kw: Any) -> requests.Response:
        url = f"{self.config.url}{path}"
        try:
            r = self._http().request(method, url, timeout=self.config.timeout, **kw)
        except requests.exceptions.Timeout:
            self._reset()
            raise HubUnavailable(f"hub {self.config.url}: no answer within {self.config.timeout:g} s") from None
        except requests.exceptions.SSLError as e:
            self._reset()
            raise HubUnavailable(f"hub {self.config.url}: TLS failed ({_short(e)})") from None
        except requests.exceptions.RequestException as e:
            self._reset()
            raise HubUnavailable(f"hub {self.config.url}: unreachable ({_short(e)})") from None
        if r.status_code >= 500:
            self._reset()
            raise HubUnavailable(f"hub {self.config.url}: server error {r.status_code} on {path}")
        if r.status_code >= 400 and r.status_code != 404:
            try:
                detail = str(r.json().get("detail"))
            except ValueError:
                detail = r.text[:200]
            raise HubRefused(r.status_code, f"{method} {path}: {detail}")
        return r

    def _json(self, r: requests.Response) -> Any:
        try:
            return r.json()
        except ValueError:
            raise HubRefused(r.status_code, f"answer to {r.request.path_url} is not JSON") from None

    # -- one round ----------------------------------------------------------------------------------

    def measure_time(self) -> float:
        t0 = time.time()
        m0 = time.monotonic()
        hub_time = self._json(self._request("GET", "/v1/time")).get("time")
        rtt = time.monotonic() - m0
        if not isinstance(hub_time, int | float):
            raise HubRefused(200, "time answer has no number")
        offset = float(hub_time) - (t0 + rtt / 2)
        self.state.hub_time_offset = round(offset, 3)
        self.state.hub_time_rtt = round(rtt, 3)
        self.state.hub_time_measured_at = t0
        return offset

    def _prepare(self, after_seq: int) -> tuple[list[dict[str, Any]], bytes] | None:
        rows = self.log.pending(self.config.batch_size, after_seq=after_seq)
        if not rows:
            return None
        body = json.dumps({"visits": rows}, separators=(",", ":"), ensure_ascii=False).encode()
        return rows, gzip.compress(body, compresslevel=3)

    def _post_batch(self, body: bytes) -> dict[str, Any]:
        r = self._request("POST", "/v1/visits", data=body,
                          headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        if r.status_code != 200:
            raise HubRefused(r.status_code, "upload not accepted")
        ack = self._json(r)
        if not isinstance(ack, dict):
            raise HubRefused(r.status_code, "upload answer is not an object")
        return ack

    def upload(self) -> RoundReport:
        """Upload the whole outbox; each batch is marked synced only once the hub acknowledged it."""
        report = RoundReport()
        batch = self._prepare(0)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload") as pool:
            while batch is not None:
                rows, body = batch
                sending = pool.submit(self._post_batch, body)
                # Read and compress the next batch while the hub stores this one.
                batch = self._prepare(rows[-1]["seq"])
                ack = sending.result()
                sent = {row["visit_id"] for row in rows}
                acked = [i for i in ack.get("acked", []) if i in sent]
                if not acked:
                    raise HubRefused(200, "the hub acknowledged none of the batch")
                # Rows the hub did not acknowledge stay in the outbox for the next round.
                self.log.mark_synced(acked)
                report.uploaded += int(ack.get("stored", 0))
                report.duplicates += int(ack.get("duplicates", 0))
                breaks = ack.get("chain_breaks") or []
                report.chain_breaks += len(breaks)
                for b in breaks[:5]:
                    log.warning("hub flagged a chain break at visit %s (seq %s): %s", b.get("visit_id"),
                                b.get("seq"), b.get("problem"))
                self.state.uploaded_total += len(acked)
                self.state.duplicates_total += int(ack.get("duplicates", 0))
                self.notify("WATCHDOG=1")
        self.state.pending = self.log.pending_count()
        return report

    def fetch_trust_list(self) -> str:
        from keys.errors import TrustListError

        if self.trust is None:
            return "no trust anchors configured"
        info = self.state.trust_list
        headers = {"If-None-Match": info["etag"]} if info.get("etag") and self.trust.version is not None else {}
        r = self._request("GET", "/v1/trust-list", headers=headers)
        if r.status_code == 304:
            info["error"] = None
            return "unchanged"
        if r.status_code == 404:
            return "none published"
        if self.trust.current is not None and _json_or_none(r.content) == self.trust.current.document:
            # The list already held (first contact after a bootstrap, or a lost ETag): not a rollback.
            info.update(etag=r.headers.get("ETag"), error=None)
            return "unchanged"
        try:
            self.trust.update(r.content, source="hub")
        except TrustListError as e:
            # The cached list stays; the refusal is visible on the kiosk until a good list arrives.
            info["error"] = str(e)
            log.warning("%s", e)
            return f"refused: {e.reason}"
        info.update(etag=r.headers.get("ETag"), error=None)
        return f"updated to version {self.trust.version}"

    def fetch_status_lists(self) -> dict[str, str]:
        from keys.errors import StatusListError

        out: dict[str, str] = {}
        if self.trust is None or self.status_store is None:
            return out
        for issuer in self.trust.issuers():
            entry = self.state.status_lists.setdefault(issuer, {})
            result = "unchanged"
            for _ in range(MAX_STATUS_STEPS):
                since = self.status_store.version(issuer)
                params = {"since": since} if since is not None else {}
                r = self._request("GET", f"/v1/status/{issuer}", params=params)
                if r.status_code == 404:
                    result = "none published"
                    break
                if r.status_code == 304:
                    entry["error"] = None
                    break
                try:
                    applied = self.status_store.apply(r.content, self.trust, source=f"hub {issuer}")
                except StatusListError as e:
                    entry["error"] = str(e)
                    log.warning("%s", e)
                    result = f"refused: {e.reason}"
                    break
                entry["error"] = None
                kind = "snapshot" if applied.snapshot else "delta"
                result = f"{kind} {applied.version}"
            out[issuer] = result
        return out

    def fetch_profiles(self) -> str:
        """Venue profile overrides from the hub, checked like a settings file, kept in `PROFILES_FILE`."""
        from scanner.policy import profile_problems

        info = self.state.profiles
        try:
            held = json.loads((self.config.data_dir / PROFILES_FILE).read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError, TypeError):
            held = None  # nothing usable held: fetch unconditionally
        headers = {"If-None-Match": info["etag"]} if info.get("etag") and held is not None else {}
        r = self._request("GET", "/v1/profiles", headers=headers)
        if r.status_code in (304, 404):
            return "unchanged" if r.status_code == 304 else "none published"
        doc = self._json(r)
        version = doc.get("version") if isinstance(doc, dict) else None
        profiles = doc.get("profiles") if isinstance(doc, dict) else None
        problem: str | None
        if type(version) is not int or not isinstance(profiles, dict):
            problem = "not a {version, profiles} document"
        elif held is not None and version <= held:
            problem = f"version {version} is not newer than the held version {held}"
        else:
            problems = profile_problems(profiles)
            problem = "; ".join(problems) if problems else None
        if problem:
            info["error"] = f"venue profiles from the hub refused: {problem}"
            log.warning("%s", info["error"])
            return f"refused: {problem}"
        atomic_write_json(self.config.data_dir / PROFILES_FILE, {"version": version, "profiles": profiles})
        info.update(version=version, etag=r.headers.get("ETag"), error=None)
        return f"updated to version {version}"

    def _ages(self) -> None:
        now = time.time()
        if self.trust is not None and self.trust.version is not None:
            self.state.trust_list.update(version=self.trust.version, issued_at=self.trust.issued_at,
                                         next_update=self.trust.next_update,
                                         age=round(now - self.trust.issued_at, 1))
        if self.status_store is not None:
            for info in self.status_store.issuers():
                self.state.status_lists.setdefault(info.issuer, {}).update(
                    version=info.version, issued_at=info.issued_at, next_update=info.next_update,
                    age=round(now - info.issued_at, 1))
        st = self.log.storage()
        self.state.storage = {"percent": st.percent, "alarm": st.alarm, "full": st.full, "message": st.message}
        self.state.pending = self.log.pending_count()
        self.state.updated_at = now

    def write_state(self) -> None:
        try:
            self._ages()
        except Exception as e:  # the status file must still be written when the log is unreadable
            self.state.last_error = f"{self.state.last_error or ''} (state incomplete: {e})".strip()
        write_status(self.config.data_dir, self.state)

    def run_once(self) -> RoundReport:
        """One full round; raises `HubUnavailable`, `HubRefused` or `StorageError` after recording it."""
        self.state.last_attempt = time.time()
        try:
            self.measure_time()
            report = self.upload()
            report.trust_list = self.fetch_trust_list()
            report.status_lists = self.fetch_status_lists()
            report.profiles = self.fetch_profiles()
            report.purged = self.log.purge(self.config.retention_days)
        except CheckpointError as e:
            # Hub unreachable or refusing, or the local log failing (disk full): all recorded for the kiosk.
            self.state.online = isinstance(e, HubRefused)
            self.state.consecutive_failures += 1
            self.state.last_error = str(e)
            self.write_state()
            raise
        self.state.online = True
        self.state.consecutive_failures = 0
        self.state.last_success = time.time()
        errors = [x for x in [self.state.trust_list.get("error"), self.state.profiles.get("error"),
                              *(v.get("error") for v in self.state.status_lists.values())] if x]
        self.state.last_error = errors[0] if errors else None
        self.write_state()
        return report

    def _status(self, text: str) -> None:
        # One line only: a newline would start a new assignment in the sd_notify message.
        self.notify("STATUS=" + " ".join(text.splitlines()))

    def run(self, stop: threading.Event, *, max_rounds: int | None = None) -> None:
        """Repeat rounds until `stop` is set; back off after failures. Pings the systemd watchdog."""
        self.notify("READY=1")
        rounds = 0
        while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
            rounds += 1
            try:
                report = self.run_once()
                delay = self.config.interval
                self._status(f"online, {report.uploaded} uploaded, {self.state.pending} pending")
            except CheckpointError as e:
                delay = backoff_delay(self.state.consecutive_failures, base=self.config.backoff_base,
                                      cap=self.config.backoff_max, rng=self.rng)
                log.warning("sync failed (%s); retrying in %.1f s", e, delay)
                self._status(f"offline: {e}")
            self.state.next_attempt_at = time.time() + delay
            write_status(self.config.data_dir, self.state)
            deadline = time.monotonic() + delay
            while not stop.is_set():
                self.notify("WATCHDOG=1")
                left = deadline - time.monotonic()
                if left <= 0 or take_sync_request(self.config.data_dir):
                    break
                # Short waits: a "sync now" from the kiosk should not sit out a whole backoff.
                if stop.wait(min(left, self.config.watchdog_ping, REQUEST_POLL)):
                    break
        self.notify("STOPPING=1")
        self._reset()


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _short(e: BaseException) -> str:
    text = str(e)
    for marker in ("Caused by ", "reason="):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text[:160]
