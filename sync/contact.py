"""The agent's contact step: one `POST /v1/round` gives the hub's time, what changed and the site's admissions.

The hub's time is measured against the round trip and kept as an offset in the status file, for the
clock. The answer names the lists that changed since the versions the device holds, so the list steps
fetch only those; it carries the device's health record the other way. An older hub without
`/v1/round` answers 404: from then on the agent reads `/v1/time` and asks for every list conditionally.
The admissions at this device's site (gate-to-gate anti-passback) go to the feed file the kiosk reads.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from keys.durable import atomic_write_json
from scanner.errors import CheckpointError
from scanner.gate.repeats import HORIZON_S
from scanner.storage.datadir import DataDir
from scanner.storage.syncstate import SyncStatus
from sync.answers import RoundAnswer, TimeAnswer, parse_answer
from sync.errors import HubRefused
from sync.health import health_record
from sync.transport import HubClient
from sync.upload import damage_notice

if TYPE_CHECKING:
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore
    from scanner.rules.ruleslist import RulesStore
    from scanner.storage.visitlog import VisitLog
    from sync.agent import AgentConfig

log = logging.getLogger("sync.agent")


class ContactSteps:
    """Mixed into `SyncAgent`, which provides these attributes."""

    config: AgentConfig
    client: HubClient
    state: SyncStatus
    log: VisitLog
    trust: TrustStore | None
    status_store: StatusStore | None
    rules: RulesStore | None
    started_at: float
    _round_supported: bool
    # The site's admissions as last written to the feed file, and the hub's (`admissions_until`,
    # `admissions_site`) for them.
    _admissions: list[dict[str, Any]]
    _admissions_of: tuple[int, str | None] | None
    # The salvaged visits of other devices, by device, as read this round (None: not read yet).
    _other_devices: dict[str, int] | None

    def _damage_notice(self, notice: str) -> str | None:
        """`damage_notice`, the visits of other devices read once a round (here, then for the status file at its
        end): reading them scans every kept row, and they change only when a salvage adds some, never by an
        upload (this device does not send them)."""
        if self._other_devices is None:
            self._other_devices = self.log.recovered.of_other_devices(self.config.device_id)
        return damage_notice(self._other_devices, notice)

    def measure_time(self) -> float:
        t0 = time.time()
        m0 = time.monotonic()
        a = self.client.request("GET", "/v1/time")
        rtt = time.monotonic() - m0
        if a.status != 200:
            raise HubRefused(a.status, "GET /v1/time: no time answer")
        return self._record_time(parse_answer(TimeAnswer, a.body, "GET /v1/time").time, t0, rtt)

    def _record_time(self, hub_time: float, t0: float, rtt: float) -> float:
        offset = hub_time - (t0 + rtt / 2)
        self.state.hub_time_offset = round(offset, 3)
        self.state.hub_time_rtt = round(rtt, 3)
        self.state.hub_time_measured_at = t0
        return offset

    def hub_round(self) -> RoundAnswer | None:
        """`POST /v1/round`: time, what changed, the health record. None from a hub without it."""
        if not self._round_supported:
            self.measure_time()
            return None
        have = {"trust_list": self.state.trust_list.get("etag") if self.trust and self.trust.version else None,
                "profiles": self.state.profiles.get("etag"),
                "rules": self.state.rules_list.get("etag") if self.rules and self.rules.version else None,
                "dcc_revocation": self.state.dcc_revocation.get("etag")
                if self.status_store and self.status_store.dcc_revocation_info() else None,
                "status": {i.issuer: i.version for i in self.status_store.issuers()} if self.status_store else {}}
        try:
            st = self.log.storage()
            log_bytes: int | None = st.used_bytes
            # The log's damage notice as it is now (a salvage at this start, an acknowledgement since).
            self.state.storage["damage"] = self._damage_notice(st.damage)
        except CheckpointError:
            log_bytes = None
        health = health_record(self.config.data_dir, self.state, log_bytes=log_bytes, started_at=self.started_at,
                               clock_trusted=None)
        health.update(checkpoint_id=self.config.checkpoint_id, site=self.config.site)
        since = self._admissions_of
        if since is not None:
            have["admissions_since"], have["admissions_site"] = since
        t0 = time.time()
        m0 = time.monotonic()
        a = self.client.request("POST", "/v1/round", json={"have": have, "health": health})
        rtt = time.monotonic() - m0
        if a.status == 404:
            # An older hub: from now on the individual requests (time, then every list conditionally).
            self._round_supported = False
            self.measure_time()
            return None
        answer = parse_answer(RoundAnswer, a.body, "POST /v1/round", a.status)
        self._record_time(answer.time, t0, rtt)
        self._keep_admissions(answer, since)
        return answer

    def _keep_admissions(self, answer: RoundAnswer, since: tuple[int, str | None] | None) -> None:
        """Keep the code ids admitted at this device's site recently (gate-to-gate anti-passback) in the
        feed file the kiosk reads. A hub that said when it read them and for which site (`admissions_until`,
        `admissions_site`) sends, once the device said what it has of that same site, only those received
        since: they are merged with the held ones (each once, none older than the horizon); otherwise the
        answer is the whole feed."""
        got = [x.model_dump() for x in answer.admissions]
        until = answer.admissions_until
        incremental = until is not None and since is not None and since[1] == answer.admissions_site
        if incremental:
            horizon_ms = (answer.time - HORIZON_S) * 1000
            seen: set[tuple[str, int, str]] = set()
            kept = []
            for x in [*got, *self._admissions]:
                key = (x["code_id"], x["ts_ms"], x["device_id"])
                if key not in seen and x["ts_ms"] >= horizon_ms:
                    seen.add(key)
                    kept.append(x)
            kept.sort(key=lambda x: -x["ts_ms"])
        else:
            kept = got
        self._admissions_of = (until, answer.admissions_site) if until is not None else None
        if kept == self._admissions and incremental:
            return  # unchanged: the kiosk need not read the file again
        path = DataDir(self.config.data_dir).site_admissions
        try:
            atomic_write_json(path, {"received_at": time.time(), "admissions": kept})
        except OSError as e:  # a full disk: the hub was reached all the same; the next round writes it
            log.error("site admissions not kept: cannot write %s: %s", path, e.strerror or e)
            self._admissions_of = None
            return
        self._admissions = kept
