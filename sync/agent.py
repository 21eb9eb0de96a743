"""The sync agent: a separate process that uploads the visit log and keeps trust data fresh.

One round (`run_once`) is a series of independent steps; each one's failure is recorded in
`sync-status.json` (`steps`) and does not keep the others from running:

0. signs a checkpoint of the visit log's head with the device key (also offline);
1. contacts the hub: `POST /v1/round` with the versions held and the device's health record; the answer
   gives the hub's time (the clock offset) and says which lists changed (an older hub without
   `/v1/round` answers 404: the agent then reads `/v1/time` and asks for every list conditionally);
2. uploads the outbox in gzip JSON batches with the log id and a signed checkpoint; rows are marked
   synced only after the hub acknowledged them, and the hub's (last seq, last chain) is kept in the log;
3. fetches the trust list (conditional GET, ETag; streamed to disk with a size cap) and hands it to
   `TrustStore.update`, which refuses a tampered or rolled-back list and keeps the cached one;
4. fetches each issuer's status list with `since=` its held version, same caps, `StatusStore.apply`
   (a refused delta is followed by the latest full snapshot, once a round);
   the EU DCC revocation list when the hub says it changed (conditional GET; verified against the
   pinned anchors, an older version refused, applied whole to the status store); then the rules list
   (business rules, `RulesStore.update`: verified, every rule compiled, rollback
   refused) and venue profile overrides, if the hub publishes any (checked, newer versions only);
5. purges synced visits past the retention, and writes `sync-status.json` for the kiosk.

Every answer is validated (`sync.answers`) before use. Every request has a whole-request deadline and
is broken off when the agent is told to stop (`sync.transport`). "online" means every step that needed
the hub got a good answer in the last round. `run` repeats rounds every `sync.interval` seconds; after a
failure it waits with exponential backoff and jitter, capped at `sync.backoff_max`. Under systemd it
sends READY/WATCHDOG/STATUS notifications.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from scanner.errors import CheckpointError
from scanner.service.sdnotify import Notifier
from scanner.settingchecks import hub_tls_problem
from scanner.storage.syncstate import SyncStatus, read_status, take_sync_request, write_status
from sync.contact import ContactSteps
from sync.errors import HubUnavailable, SyncConfigError, SyncError
from sync.lists import PROFILES_FILE, ListSteps
from sync.transport import HubClient
from sync.upload import UploadSteps

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore
    from scanner.config import Settings
    from scanner.rules.ruleslist import RulesStore
    from scanner.storage.visitlog import VisitLog

log = logging.getLogger(__name__)
T = TypeVar("T")

# How often the waiting agent looks for a "sync now" request from the kiosk, in seconds.
REQUEST_POLL = 1.0
MiB = 1024 * 1024


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
    max_trust_list_bytes: int = 16 * MiB
    max_status_list_bytes: int = 64 * MiB
    max_rules_list_bytes: int = 8 * MiB
    # Where the device stands, for the hub's fleet page (the checkpoint's id and name).
    checkpoint_id: str = ""
    site: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> AgentConfig:
        hub = settings.hub
        missing = [k for k in ("url", "client_cert", "client_key", "ca_cert") if not getattr(hub, k)]
        if missing:
            raise SyncConfigError(f"{settings.source}: [hub] {', '.join(missing)} not set: the agent needs the "
                                  "hub URL and the device's certificate, key and the hub CA")
        for k in ("client_cert", "client_key", "ca_cert"):
            if not Path(getattr(hub, k)).is_file():
                raise SyncConfigError(f"{settings.source}: hub.{k}: {getattr(hub, k)}: no such file")
        # Checked once here: a file TLS cannot use would otherwise fail every round, retried for good.
        if problem := hub_tls_problem(hub):
            raise SyncConfigError(f"{settings.source}: {problem}")
        return cls(url=hub.url.rstrip("/"), client_cert=hub.client_cert, client_key=hub.client_key,
                   ca_cert=hub.ca_cert, data_dir=settings.data_dir, device_id=settings.device.id,
                   batch_size=settings.sync.batch_size, timeout=settings.sync.timeout,
                   interval=settings.sync.interval, backoff_max=settings.sync.backoff_max,
                   retention_days=settings.log.retention_days, anchors=list(settings.trust.anchors),
                   max_trust_list_bytes=int(settings.sync.max_trust_list_mb * MiB),
                   max_status_list_bytes=int(settings.sync.max_status_list_mb * MiB),
                   max_rules_list_bytes=int(settings.sync.max_rules_list_mb * MiB),
                   checkpoint_id=settings.device.checkpoint_id, site=settings.device.checkpoint_name)


@dataclass
class RoundReport:
    uploaded: int = 0
    duplicates: int = 0
    chain_breaks: int = 0
    trust_list: str = "unchanged"
    status_lists: dict[str, str] = field(default_factory=dict)
    profiles: str = "unchanged"
    rules: str = "unchanged"
    dcc_revocation: str = "unchanged"
    purged: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class SyncAgent(ContactSteps, UploadSteps, ListSteps):
    def __init__(self, config: AgentConfig, visit_log: VisitLog, trust: TrustStore | None = None,
                 status: StatusStore | None = None, *, notifier: Notifier | None = None,
                 rng: random.Random | None = None, stop: threading.Event | None = None,
                 rules: RulesStore | None = None):
        self.config = config
        self.log = visit_log
        self.trust = trust
        self.status_store = status
        self.rules = rules
        self.notifier = notifier or Notifier.silent()
        self.rng = rng or random.Random()
        self.state = read_status(config.data_dir) or SyncStatus()
        self.stop = stop or threading.Event()
        self.client = HubClient(config.url, client_cert=config.client_cert, client_key=config.client_key,
                                ca_cert=config.ca_cert, timeout=config.timeout, stop=self.stop,
                                # Every request is bounded; one that ended (either way) proves the agent lives.
                                on_request_end=lambda: self.notifier.watchdog(),
                                # A download that outlasts WatchdogSec (a list over a slow link) lives while
                                # its bytes arrive; a stalled one pings no more and ends at its deadline.
                                on_progress=lambda: self.notifier.watchdog())
        self.started_at = time.time()
        self._device_key: ec.EllipticCurvePrivateKey | None = None
        self._round_supported = True
        self._errors: list[CheckpointError] = []  # the current (or last) round's failures
        self._admissions: list[dict[str, Any]] = []
        self._admissions_of: tuple[int, str | None] | None = None
        self._other_devices: dict[str, int] | None = None

    def close(self) -> None:
        """Close pooled connections to the hub."""
        self.client.close()

    # -- state --------------------------------------------------------------------------------------

    def _ages(self) -> None:
        now = time.time()
        if self.trust is not None:
            self.state.trust_list["problem"] = self.trust.problem
            held = self.trust.current
            if held is not None:
                self.state.trust_list.update(version=held.version, issued_at=held.issued_at,
                                             next_update=held.next_update, age=round(now - held.issued_at, 1))
            else:
                self.state.trust_list.update(version=None, issued_at=None, next_update=None, age=None)
        if self.rules is not None:
            self.state.rules_list["problem"] = self.rules.problem
            rules = self.rules.current
            self.state.rules_list.update(version=rules.version if rules else None,
                                         issued_at=rules.issued_at if rules else None,
                                         next_update=rules.next_update if rules else None,
                                         age=round(now - rules.issued_at, 1) if rules else None)
        if self.status_store is not None:
            for info in self.status_store.issuers():
                self.state.status_lists.setdefault(info.issuer, {}).update(
                    version=info.version, issued_at=info.issued_at, next_update=info.next_update,
                    age=round(now - info.issued_at, 1))
            revocation = self.status_store.dcc_revocation_info()
            self.state.dcc_revocation.update(version=revocation.version if revocation else None,
                                             issued_at=revocation.issued_at if revocation else None,
                                             next_update=revocation.next_update if revocation else None,
                                             age=round(now - revocation.issued_at, 1) if revocation else None)
        st = self.log.storage()
        status_problem = self.status_store.problem if self.status_store is not None else None
        self.state.storage = {"percent": st.percent, "alarm": st.alarm, "space_alarm": st.space_alarm, "full": st.full,
                              "message": st.message,
                              "damage": self._damage_notice(st.damage),
                              "status_store": status_problem}
        self.state.pending = self.log.pending_count()
        self.state.updated_at = now

    def write_state(self) -> None:
        try:
            self._ages()
        except Exception as e:  # the status file must still be written when the log is unreadable
            self.state.last_error = f"{self.state.last_error or ''} (state incomplete: {e})".strip()
        self._save_state()

    def _save_state(self) -> None:
        """Write `sync-status.json`; a full disk costs the record of this round, never the agent's rounds
        (uploading is what lets synced visits be purged)."""
        try:
            write_status(self.config.data_dir, self.state)
        except OSError as e:
            log.error("sync status not written: %s: %s", e.filename or self.config.data_dir, e.strerror or e)

    # -- one round ----------------------------------------------------------------------------------

    def _step(self, name: str, report: RoundReport, fn: Callable[[], T]) -> tuple[bool, T | None]:
        """Run one step; record its outcome in the state. A failure never stops the other steps."""
        try:
            result = fn()
        except CheckpointError as e:
            error: SyncError | CheckpointError = e
        except Exception as e:  # a defect must cost one step of one round, never the agent
            log.exception("sync step %s failed unexpectedly", name)
            error = SyncError(f"{name}: unexpected failure ({type(e).__name__}: {e})")
        else:
            self.state.steps[name] = {"ok": True, "at": time.time(), "error": None}
            return True, result
        self.state.steps[name] = {"ok": False, "at": time.time(), "error": str(error)}
        report.failed[name] = str(error)
        self._errors.append(error)
        log.warning("sync step %s: %s", name, error)
        return False, None

    def run_once(self) -> RoundReport:
        """One round of independent steps; raises the first failure after recording every step."""
        self.state.last_attempt = time.time()
        report = RoundReport()
        self._errors = []
        self._other_devices = None
        self._step("checkpoint", report, self.checkpoint)
        reached, answer = self._step("contact", report, self.hub_round)
        if reached:
            changed = answer.changed if answer is not None else None
            # The lists are fetched whatever the upload's outcome: a refused batch must not freeze them.
            _, up = self._step("upload", report, self.upload)
            if up is not None:
                report.uploaded, report.duplicates, report.chain_breaks = up.stored, up.duplicates, up.chain_breaks
            if changed is None or changed.trust_list or (self.trust is not None and self.trust.version is None):
                _, trust_list = self._step("trust_list", report, self.fetch_trust_list)
                report.trust_list = trust_list if trust_list is not None else "failed"
            only = None if changed is None or changed.trust_list else list(changed.status)
            _, status_lists = self._step("status_lists", report, lambda: self.fetch_status_lists(only))
            report.status_lists = status_lists if status_lists is not None else {}
            if changed is None or changed.dcc_revocation:
                _, revocation = self._step("dcc_revocation", report, self.fetch_dcc_revocation)
                report.dcc_revocation = revocation if revocation is not None else "failed"
            if changed is None or changed.rules or (self.rules is not None and self.rules.version is None):
                _, rules = self._step("rules_list", report, self.fetch_rules_list)
                report.rules = rules if rules is not None else "failed"
            if changed is None or changed.profiles:
                _, profiles = self._step("profiles", report, self.fetch_profiles)
                report.profiles = profiles if profiles is not None else "failed"
        _, purged = self._step("purge", report, lambda: self.log.purge(self.config.retention_days))
        report.purged = purged if purged is not None else 0
        net_failed = [e for e in self._errors if isinstance(e, SyncError)]
        self.state.online = reached and not net_failed
        if self._errors:
            self.state.consecutive_failures += 1
            self.state.last_error = str(self._errors[0])
        else:
            self.state.consecutive_failures = 0
            self.state.last_success = time.time()
            # A refused list is no failed round (the device kept its own), but it must stay visible.
            refusals = [x for x in [self.state.trust_list.get("error"), self.state.rules_list.get("error"),
                                    self.state.profiles.get("error"), self.state.dcc_revocation.get("error"),
                                    *(v.get("error") for v in self.state.status_lists.values())] if x]
            self.state.last_error = refusals[0] if refusals else None
        self.write_state()
        if self._errors:
            raise self._errors[0]
        return report

    def _status(self, text: str) -> None:
        self.notifier.status(text)

    def run(self, stop: threading.Event, *, max_rounds: int | None = None) -> None:
        """Repeat rounds until `stop` is set; back off after failures. Pings the systemd watchdog."""
        self.stop = self.client.stop = stop
        self.notifier.ready()
        rounds = 0
        while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
            if self.log.replaced():
                # The kiosk or gate found the log damaged, set it aside and started a new one: this process
                # still holds the old file. The rounds end; the service is restarted on the new log.
                log.error("visit log %s was replaced (set aside as damaged): stopping to reopen it", self.log.path)
                break
            rounds += 1
            try:
                report = self.run_once()
                delay = self.config.interval
                self._status(f"online, {report.uploaded} uploaded, {self.state.pending} pending")
            except Exception as e:  # a defect costs a round, never the agent (steps catch their own)
                if not isinstance(e, CheckpointError):
                    log.exception("sync round failed unexpectedly")
                delay = backoff_delay(self.state.consecutive_failures, base=self.config.backoff_base,
                                      cap=self.config.backoff_max, rng=self.rng)
                # A hub that said how long to wait (Retry-After on 429/503) gets at least that, within the cap.
                asked = [x.retry_after for x in self._errors if isinstance(x, HubUnavailable) and x.retry_after]
                if asked:
                    delay = min(max(delay, *asked), self.config.backoff_max)
                log.warning("sync failed (%s); retrying in %.1f s", e, delay)
                self._status(f"offline: {e}" if not self.state.online else f"degraded: {e}")
            self.state.next_attempt_at = time.time() + delay
            self._save_state()
            deadline = time.monotonic() + delay
            while not stop.is_set():
                self.notifier.watchdog()
                left = deadline - time.monotonic()
                if left <= 0 or take_sync_request(self.config.data_dir):
                    break
                # Short waits: a "sync now" from the kiosk should not sit out a whole backoff.
                if stop.wait(min(left, self.config.watchdog_ping, REQUEST_POLL)):
                    break
        self.notifier.stopping()
        self.client.close()


__all__ = ["PROFILES_FILE", "AgentConfig", "RoundReport", "SyncAgent", "backoff_delay"]
