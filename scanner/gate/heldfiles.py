"""What the gate session picks up from the sync agent, and the status it reports once a second. No Qt.

`HeldFiles` is mixed into `scanner.session.Session` (the attributes below are the session's). The sync
agent, another process, replaces the trust list, the rules list and the hub's venue profiles on disk; the
session notices by modification time on its once-a-second `snapshot` and loads them, keeping what it holds
when a new file is refused (a running device never drops a good list for a bad one). The snapshot also
carries the agent's sync state, the trusted clock's confirmation from the hub's time, the visit log's storage
alarm and the notice of a damaged log salvaged (checked every 30 s), a damaged status store set aside, and the
gate output's problem, for the status bar and the admin panel.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from keys.jsontypes import JsonObject
from scanner.clock import Clock, TrustedClock
from scanner.errors import CheckpointError
from scanner.gate.counts import Counts
from scanner.gate.repeats import Admissions
from scanner.status import StatusSnapshot, read_sync_status
from scanner.storage.datadir import TRUST_LIST_FILE, VENUE_PROFILES_FILE

if TYPE_CHECKING:
    from keys.keyfile import PublicKey
    from scanner.checker import Checker
    from scanner.gate.control import Gate
    from scanner.policy import VenueProfile
    from scanner.status import SyncState
    from scanner.storage.visitlog import VisitLog
    from scanner.timesync import NtpWatch

log = logging.getLogger("scanner.session")

HUB_PROFILES_FILE = VENUE_PROFILES_FILE  # written by the sync agent
STORAGE_CHECK_S = 30


class HeldFiles:
    """Trust list, rules list and venue profiles reloaded when the agent replaced them; `snapshot`."""

    checker: Checker
    visit_log: VisitLog | None
    clock: Clock
    data_dir: Path
    device_id: str
    checkpoint_name: str
    anchors: list[PublicKey] | None
    trust_grace: float
    status_grace: float
    gate: Gate | None
    ntp: NtpWatch | None
    admissions: Admissions
    storage_message: str
    _storage_checked: float
    _storage_alarm_text: str
    _storage_damage_text: str
    _trust_mtime: float | None
    config_profiles: dict[str, JsonObject]
    hub_profiles: dict[str, JsonObject]
    hub_profiles_version: int | None
    _profiles_mtime: float | None

    if TYPE_CHECKING:  # the session's own
        @property
        def profile(self) -> VenueProfile: ...

        def counts(self) -> Counts: ...

        def set_profile(self, name: str, overrides: dict[str, JsonObject] | None = None) -> VenueProfile: ...

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

    # --- status (GUI timer, once a second) -----------------------------------------------------
    def _trust_file_mtime(self) -> float | None:
        directory = self.checker.trust.directory
        try:
            return (Path(directory) / TRUST_LIST_FILE).stat().st_mtime if directory else None
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
        if now - self._storage_checked >= STORAGE_CHECK_S:
            self._storage_checked = now
            try:
                state = self.visit_log.storage()
                self._storage_alarm_text = state.message if state.alarm else ""
                self._storage_damage_text = state.damage
            except (OSError, CheckpointError) as e:
                self._storage_alarm_text = f"visit log storage unknown: {e}"
        return self._storage_alarm_text

    def acknowledge_storage_notice(self) -> int:
        """An administrator has read the damaged visit log's notice (`RecoveredVisits.acknowledge`): it is shown
        no more, from the next snapshot on; how many salvages it told of."""
        if self.visit_log is None:
            return 0
        done = self.visit_log.recovered.acknowledge()
        self._storage_checked = -1e9
        return done

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
        if self.ntp is not None:
            self.ntp.poll(self.clock)
        self.admissions.refresh()
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
        if self._storage_damage_text:  # a damaged visit log salvaged, until an operator acknowledges it
            extra["visit_log_damage"] = self._storage_damage_text
        status_store = self.checker.status
        if status_store is not None and status_store.problem and not status_store.issuers():
            # Its file was damaged and set aside; moot once the sync agent has fetched the lists again.
            extra["status_store"] = status_store.problem
        rules = self.checker.rules
        if rules is not None and rules.problem:
            extra["rules_list"] = rules.problem
        elif rules is not None and rules.current is None and self.profile.rule_sets:
            extra["rules_list"] = f"no rules list held: rule sets {', '.join(self.profile.rule_sets)} are not applied"
        if self.gate is not None and self.gate.problem:
            extra["gate"] = f"闸机输出故障 / Gate output failed: {self.gate.problem}"
        counts = self.counts()
        return StatusSnapshot(
            now=now, clock_trusted=self.clock.trusted(), clock_reason=reason,
            sync=sync, trust_list_issued=trust_issued,
            trust_list_stale=trust_stale, status_list_issued=status_issued, status_list_stale=status_stale,
            device=self.device_id, checkpoint=self.checkpoint_name, admitted_today=counts.admitted,
            denied_today=counts.refused, manual_today=counts.manual_checks, camera_ok=camera_ok,
            camera_message=camera_message, flow=self.profile.flow, trust_list_problem=trust.problem, extra=extra)

