"""The gate session: decisions in, visits logged, counts and status out. No Qt.

The kiosk presents a `Session`; having no Qt, it runs as it is without a screen too.
`Session.handle(event)` runs on the pipeline's worker thread for every decision: it logs the visit
(durably, before the screen shows it) and returns what the screen needs. In the pharmacy flow a pass is
held until the clerk has tapped the drug categories (`register_purchase`), so the registration is part of
the visit record; a held visit that is never completed is still logged (`release_all`).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keys.jsontypes import JsonObject
from scanner.clock import Clock, TrustedClock
from scanner.errors import CheckpointError
from scanner.status import StatusSnapshot, local_midnight, read_sync_status
from scanner.storage.datadir import VENUE_PROFILES_FILE

if TYPE_CHECKING:
    from keys.keyfile import PublicKey
    from scanner.checker import Checker
    from scanner.pipeline import DecisionEvent
    from scanner.policy import Decision, VenueProfile
    from scanner.status import SyncState
    from scanner.storage.visitlog import VisitLog

log = logging.getLogger(__name__)

RECENT = 50
HUB_PROFILES_FILE = VENUE_PROFILES_FILE  # written by the sync agent


@dataclass(frozen=True)
class Shown:
    """One decided code on its way to the screen."""

    decision: Decision
    payload_key: str
    frame_timestamp: float  # monotonic capture time (camera) or arrival of the last key (scanner)
    decided_at: float  # monotonic
    source: str
    token: int | None = None  # pharmacy: the visit waits for the clerk's categories


@dataclass(frozen=True)
class RecentDecision:
    """For the admin panel: no names, only time, verdict and issuer."""

    at: float
    verdict: str
    outcome: str
    issuer: str
    admit: bool


class Session:
    def __init__(self, checker: Checker, visit_log: VisitLog | None, *, clock: Clock, data_dir: Path,
                 device_id: str, checkpoint_id: str, checkpoint_name: str = "",
                 anchors: list[PublicKey] | None = None, trust_grace: float = 0.0, status_grace: float = 0.0,
                 profile_overrides: dict[str, JsonObject] | None = None):
        self.checker = checker
        self.visit_log = visit_log
        self.clock = clock
        self.data_dir = Path(data_dir)
        self.device_id = device_id
        self.checkpoint_id = checkpoint_id
        self.checkpoint_name = checkpoint_name or checkpoint_id
        self.anchors = anchors
        self.trust_grace = trust_grace
        self.status_grace = status_grace
        self.recent: deque[RecentDecision] = deque(maxlen=RECENT)
        self.storage_message = ""
        self._storage_checked = -1e9
        self._storage_alarm_text = ""
        self._lock = threading.Lock()
        self._held: dict[int, tuple[Decision, float, float]] = {}
        self._tokens = itertools.count(1)
        self._day = local_midnight(clock.now())
        self.admitted_today, self.denied_today = self._seed_counts()
        self._trust_mtime = self._trust_file_mtime()
        self.config_profiles = dict(profile_overrides or {})
        self.hub_profiles: dict[str, JsonObject] = {}
        self.hub_profiles_version: int | None = None
        self._profiles_mtime: float | None = None
        self._reload_profiles()

    @property
    def profile(self) -> VenueProfile:
        return self.checker.profile

    # --- decisions (pipeline worker thread) ----------------------------------------------------
    def handle(self, event: DecisionEvent) -> Shown:
        d = event.decision
        token = None
        if self.profile.flow == "pharmacy" and d.admit:
            with self._lock:
                token = next(self._tokens)
                self._held[token] = (d, event.decided_at - event.frame_timestamp, self.clock.now())
        else:
            self._log(d, (event.decided_at - event.frame_timestamp) * 1000, self._flow_extra(d))
        self._count(d)
        r = d.result
        with self._lock:
            self.recent.appendleft(RecentDecision(self.clock.now(), r.verdict.value, d.outcome, r.issuer or "-",
                                                  d.admit))
        return Shown(d, event.payload, event.frame_timestamp, event.decided_at, event.source,
                     token)

    def recent_decisions(self) -> list[RecentDecision]:
        """Newest first; safe from the GUI thread while the pipeline adds more."""
        with self._lock:
            return list(self.recent)

    def register_purchase(self, token: int, categories: list[str]) -> bool:
        """Log a held pharmacy visit with the drug categories sold (none: a plain visit)."""
        with self._lock:
            held = self._held.pop(token, None)
        if held is None:
            return False
        d, latency_s, at = held
        self._log(d, latency_s * 1000, {"drug_categories": list(categories)} if categories else None, at)
        return True

    def release_all(self) -> None:
        """Log every visit still waiting for the clerk (the kiosk is closing)."""
        for token in list(self._held):
            self.register_purchase(token, [])

    def _flow_extra(self, d: Decision) -> JsonObject | None:
        if self.profile.flow == "school" and d.result.verdict.value == "ok":
            return {"school": {"role": "student", "direction": "in"}}
        return None

    def _log(self, d: Decision, latency_ms: float, extra: JsonObject | None, at: float | None = None) -> None:
        if self.visit_log is None:
            return
        from scanner.storage.visitlog import VisitRecord

        try:
            rec = VisitRecord.from_decision(d, device_id=self.device_id, checkpoint_id=self.checkpoint_id,
                                            clock_trusted=d.clock_trusted, latency_ms=latency_ms, extra=extra,
                                            at=self.clock.now() if at is None else at)
            self.visit_log.append(rec)
            self.storage_message = ""
        except CheckpointError as e:
            # The guard must know visits are not being recorded; the decision itself still stands.
            log.error("visit not logged: %s", e)
            self.storage_message = str(e)

    def _count(self, d: Decision) -> None:
        day = local_midnight(self.clock.now())
        with self._lock:
            if day != self._day:
                self._day, self.admitted_today, self.denied_today = day, 0, 0
            if d.admit:
                self.admitted_today += 1
            else:
                self.denied_today += 1

    def _seed_counts(self) -> tuple[int, int]:
        if self.visit_log is None:
            return 0, 0
        admitted = denied = 0
        try:
            for row in self.visit_log.rows(since_ms=int(self._day * 1000)):
                if row["admit"]:
                    admitted += 1
                else:
                    denied += 1
        except CheckpointError as e:
            log.warning("cannot count today's visits: %s", e)
        return admitted, denied

    # --- venue profiles --------------------------------------------------------------------------
    def profile_overrides(self) -> dict[str, JsonObject]:
        """The config file's `[profiles.NAME]` tables, with the hub's published ones on top (the region's
        policy changes reach every kiosk without editing its config)."""
        return {**self.config_profiles, **self.hub_profiles}

    def _reload_profiles(self) -> None:
        """Pick up `venue-profiles.json` when the sync agent has replaced it, and re-load our profile."""
        path = self.data_dir / HUB_PROFILES_FILE
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return
        if mtime == self._profiles_mtime:
            return
        self._profiles_mtime = mtime
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            profiles, version = doc["profiles"], doc["version"]
            if not isinstance(profiles, dict):
                raise ValueError("profiles is not an object")
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.error("venue profiles from the hub unreadable, ignored: %s", e)
            return
        old = self.hub_profiles
        self.hub_profiles = profiles
        try:
            self.set_profile(self.profile.name)
        except CheckpointError as e:
            self.hub_profiles = old
            log.error("venue profiles version %s refused, keeping the loaded ones: %s", version, e)
            return
        self.hub_profiles_version = version

    # --- settings from the admin panel ---------------------------------------------------------
    def set_profile(self, name: str, overrides: dict[str, JsonObject] | None = None) -> VenueProfile:
        from scanner.policy import load_profile

        profile = load_profile(name, self.profile_overrides() if overrides is None else overrides)
        self.checker.profile = profile  # one attribute store: the worker sees the old or the new one
        return profile

    def export_logs(self, directory: Path | None = None) -> Path:
        if self.visit_log is None:
            raise CheckpointError("no visit log is open")
        out_dir = Path(directory) if directory else self.data_dir / "exports"
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / time.strftime("visits-%Y%m%d-%H%M%S.jsonl", time.localtime(self.clock.now()))
        with open(path, "w", encoding="utf-8") as f:
            self.visit_log.export(f)
        return path

    # --- status (GUI timer, once a second) -----------------------------------------------------
    def _trust_file_mtime(self) -> float | None:
        directory = self.checker.trust.directory
        try:
            return (Path(directory) / "trustlist.json").stat().st_mtime if directory else None
        except OSError:
            return None

    def _reload_trust(self) -> None:
        """The sync agent (another process) replaced the trust list on disk: pick it up."""
        directory = self.checker.trust.directory
        mtime = self._trust_file_mtime()
        if directory is None or mtime is None or mtime == self._trust_mtime or self.anchors is None:
            return
        from keys.errors import KeysError
        from keys.trustlist import TrustStore

        try:
            # A running device keeps the list it holds rather than move a bad new one aside.
            self.checker.trust = TrustStore.open(directory, self.anchors, set_aside=False)
            self._trust_mtime = mtime
        except KeysError as e:
            log.error("new trust list on disk refused, keeping the loaded one: %s", e)
            self._trust_mtime = mtime

    def _storage_alarm(self) -> str:
        """The visit log's storage alarm (near its cap, disk almost full), checked every 30 s."""
        if self.visit_log is None:
            return ""
        now = time.monotonic()
        if now - self._storage_checked >= 30:
            self._storage_checked = now
            try:
                state = self.visit_log.storage()
                self._storage_alarm_text = state.message if state.alarm else ""
            except (OSError, CheckpointError) as e:
                self._storage_alarm_text = f"visit log storage unknown: {e}"
        return self._storage_alarm_text

    def _confirm_clock(self, sync: SyncState) -> None:
        """The sync agent measured the hub's time: let the trusted clock use it (applied once each)."""
        if (not isinstance(self.clock, TrustedClock) or sync.hub_time_offset is None
                or sync.hub_time_measured_at is None):
            return
        try:
            self.clock.confirm_offset(sync.hub_time_offset, sync.hub_time_measured_at)
        except ValueError as e:
            log.warning("hub time from the sync agent refused: %s", e)

    def snapshot(self, *, camera_ok: bool = True, camera_message: str = "") -> StatusSnapshot:
        self._reload_trust()
        if self.checker.rules is not None:
            self.checker.rules.refresh()  # the sync agent may have replaced the rules list
        self._reload_profiles()
        sync = read_sync_status(self.data_dir, self.clock.now())
        self._confirm_clock(sync)
        now = self.clock.now()
        trust = self.checker.trust
        trust_issued = trust.issued_at
        trust_stale = trust.is_stale(now, self.trust_grace)
        status = self.checker.status
        infos = status.issuers() if status is not None else []
        known = {i.issuer: i for i in infos}
        needed = trust.issuers() or list(known)
        missing = [iss for iss in needed if iss not in known]
        status_issued = min((float(i.issued_at) for i in infos), default=None)
        status_stale = bool(missing) or any(not i.is_fresh(now, self.status_grace) for i in infos) or not infos
        reason = self.clock.state().reason if isinstance(self.clock, TrustedClock) else None
        extra: dict[str, str] = {}
        alarm = self._storage_alarm()
        if self.storage_message or alarm:
            extra["storage"] = self.storage_message or alarm
        return StatusSnapshot(
            now=now, clock_trusted=self.clock.trusted(), clock_reason=reason,
            sync=sync, trust_list_issued=trust_issued,
            trust_list_stale=trust_stale, status_list_issued=status_issued, status_list_stale=status_stale,
            device=self.device_id, checkpoint=self.checkpoint_name, admitted_today=self.admitted_today,
            denied_today=self.denied_today, camera_ok=camera_ok, camera_message=camera_message,
            flow=self.profile.flow, trust_list_problem=trust.problem, extra=extra)
