"""The gate session: decisions in, visits logged, the gate opened, counts and status out. No Qt.

The kiosk presents a `Session`; having no Qt, the headless gate (`scanner.gate.runner`) runs the same one.
`Session.handle(event)` runs on the pipeline's worker thread for every decision: it refuses an anti-passback
repeat, pulses the gate (before anything slower, so the turnstile opens at once), hands the visit to the
log's writer thread (the screen shows the decision at once; the row is on disk right after, and at most
that one decision is lost to a crash before it is, see `scanner.storage.handoff`; the headless gate,
whose decision events are acknowledgements, writes it first) and returns what the
screen needs (`Shown`). One code is one
decision and one screen; `Shown.group` says when decisions share a screen (`scanner.gate.grouping`).
A manual check waits for the guard's `guard_decide` (logged as its own row, `decided_by = "guard"`); a
red alert is silenced only by `acknowledge` (logged). A pharmacy admission is logged at the decision;
the drug categories the clerk taps later are logged as a registration row that refers to it
(`register_purchase`), so a crash in between loses nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keys.jsontypes import JsonObject
from scanner.clock import Clock
from scanner.errors import CheckpointError, InputError
from scanner.gate.counts import Counts, Tally
from scanner.gate.grouping import FamilyGrouper, held_with_group
from scanner.gate.heldfiles import HeldFiles
from scanner.gate.repeats import HORIZON_S, Admissions, Repeat, RepeatNote, already_admitted, repeat_note
from scanner.gate.shown import PIN_NEEDED, AckResult, Shown
from scanner.gate.texts import GUARD_ADMITTED, GUARD_DENIED, GUARD_GUIDANCE
from scanner.storage.datadir import EXPORTS_DIR

if TYPE_CHECKING:
    from keys.keyfile import PublicKey
    from scanner.checker import Checker
    from scanner.events import DecisionEvent, RepeatEvent
    from scanner.gate.control import Gate
    from scanner.policy import Decision, VenueProfile
    from scanner.storage.visitlog import VisitLog, VisitRecord
    from scanner.timesync import NtpWatch

log = logging.getLogger(__name__)
ack_log = logging.getLogger("checkpoint.ack")

RECENT = 50
# A pharmacy pass waits this long (seconds) for the clerk's registration; its visit is logged already, so one
# nobody registers (the headless gate, a result that waited too long to be shown) is then simply forgotten.
HOLD_S = 600
ACK_METHODS = ("hold", "key", "pin")
# The guard decides on the result on screen (the kiosk) or the last one (the headless gate), so only recent
# results can be offered again; remembering this many of them keeps a months-long run's memory flat.
GUARD_DECIDED_KEPT = 256


@dataclass(frozen=True)
class RecentDecision:
    """For the admin panel: no names, only time, verdict and issuer."""

    at: float
    verdict: str
    outcome: str
    issuer: str
    admit: bool


class Session(HeldFiles):
    """One gate's decisions, logged visits, guard actions and counts (see the module docstring)."""

    def __init__(self, checker: Checker, visit_log: VisitLog | None, *, clock: Clock, data_dir: Path,
                 device_id: str, checkpoint_id: str, checkpoint_name: str = "",
                 anchors: list[PublicKey] | None = None, trust_grace: float = 0.0, status_grace: float = 0.0,
                 profile_overrides: dict[str, JsonObject] | None = None, gate: Gate | None = None,
                 family_window: float = 2.0, fast_stream: bool = False, ack_pin_hash: str | None = None,
                 ntp: NtpWatch | None = None, show_before_durable: bool = True):
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
        self.gate = gate  # scanner.gate.control.Gate or None
        self.ntp = ntp  # scanner.timesync.NtpWatch or None
        self.ack_pin_hash = ack_pin_hash  # set: acknowledging an alert needs this PIN
        self._fast_stream = fast_stream
        # A kiosk paints first and fsyncs right after (at most the decision on screen is lost to a crash);
        # the headless gate's decision events are its acknowledgements, so there the row is on disk first.
        self.show_before_durable = show_before_durable
        self.recent: deque[RecentDecision] = deque(maxlen=RECENT)
        self.storage_message = ""
        self._storage_checked = -1e9
        self._storage_alarm_text = ""
        self._storage_damage_text = ""
        self._lock = threading.Lock()
        self._held: dict[int, tuple[Decision, str | None, float]] = {}
        self._guard_decided: dict[str, None] = {}  # insertion-ordered, at most GUARD_DECIDED_KEPT
        self._frame: list[DecisionEvent] = []  # a frame's family so far (`take`)
        self._tokens = itertools.count(1)
        self.tally = Tally(clock.now)
        self.admissions = Admissions(device_id=device_id, data_dir=self.data_dir,
                                     clock_skew=checker.settings.clock_skew)
        self._seed_from_log(clock.now())
        self.grouper = FamilyGrouper(family_window)
        self.last_decision_at: float | None = None
        self._trust_mtime = self._trust_file_mtime()
        self.config_profiles = dict(profile_overrides or {})
        self.hub_profiles: dict[str, JsonObject] = {}
        self.hub_profiles_version: int | None = None
        self._profiles_mtime: float | None = None
        self._reload_profiles()

    def _seed_from_log(self, now: float) -> None:
        """Today's counts and the recent admissions from one pass over the visit log (a restart keeps both)."""
        if self.visit_log is None:
            return
        since_ms = min(self.tally.day_start_ms, int((now - HORIZON_S) * 1000))
        try:
            for row in self.visit_log.rows(since_ms=since_ms):
                self.tally.seed_row(row)
                self.admissions.seed_row(row, now)
        except CheckpointError as e:
            log.warning("cannot read today's visits and recent admissions from the visit log: %s", e)

    @property
    def profile(self) -> VenueProfile:
        return self.checker.profile

    @property
    def fast_stream(self) -> bool:
        """Replace a result with the next person's at once (`display.fast_stream` or the profile's)."""
        return self._fast_stream or self.profile.fast_stream

    def counts(self) -> Counts:
        return self.tally.counts()

    @property
    def admitted_today(self) -> int:
        return self.counts().admitted

    @property
    def denied_today(self) -> int:
        return self.counts().refused

    # --- decisions (pipeline worker thread) ----------------------------------------------------
    def take(self, event: DecisionEvent) -> list[Shown]:
        """What the screen gets for this decision: nothing yet for a member of a frame's family before its
        last (`DecisionEvent.members`), then the whole family at once (`handle_frame`)."""
        if event.members <= 1 and not self._frame:
            return self.handle_frame([event])
        with self._lock:
            cut = self._frame and (self._frame[0].frame_timestamp, self._frame[0].source) != \
                (event.frame_timestamp, event.source)
            # A family cut short is decided on its own, never lost nor mixed with the next frame.
            stale, self._frame = (self._frame, []) if cut else ([], self._frame)
            self._frame.append(event)
            if event.member < event.members - 1:
                frame: list[DecisionEvent] = []
            else:
                frame, self._frame = self._frame, []
        return (self.handle_frame(stale) if stale else []) + (self.handle_frame(frame) if frame else [])

    def handle(self, event: DecisionEvent) -> Shown:
        """One decision on its own (a scanner, or a camera frame with one code)."""
        return self.handle_frame([event])[0]

    def handle_frame(self, events: Sequence[DecisionEvent]) -> list[Shown]:
        """The decisions from one frame: each logged and shown, but the turnstile follows the group: it
        opens once for each member only when every member is admitted, and not at all otherwise."""
        now = self.clock.now()
        decided = [self._decide(event, now) for event in events]
        group_admit = all(d.admit for d, _ in decided)
        return [self._admit(event, d, repeat, now, group_admit)
                for event, (d, repeat) in zip(events, decided, strict=True)]

    def _decide(self, event: DecisionEvent, now: float) -> tuple[Decision, Repeat | None]:
        d = event.decision
        r = d.result
        code_id = r.code_id.hex() if r.code_id else None
        subject = r.subject.hex() if r.subject else None
        # A manual check too: the guard must know the person was admitted already before pressing Admit again.
        repeat = (self.admissions.check(code_id, self.profile.anti_passback, now, subject)
                  if d.admit or str(d.tone) == "check" else None)
        return (already_admitted(d, repeat), repeat) if repeat is not None else (d, None)

    def _admit(self, event: DecisionEvent, d: Decision, repeat: Repeat | None, now: float,
               group_admit: bool) -> Shown:
        r = d.result
        code_id = r.code_id.hex() if r.code_id else None
        passes = d.admit and group_admit  # a member of a refused family does not pass the turnstile either
        held = d.admit and not passes
        logged = held_with_group(d) if held else d
        gate = self.gate.on_decision(passes, "device") if self.gate is not None else None
        visit_id = self._log(logged, (event.decided_at - event.frame_timestamp) * 1000, self._flow_extra(d), now,
                             gate=gate, ref_visit=repeat.visit_id if repeat else None)
        if passes and code_id:
            self.admissions.add(code_id, now, visit_id, r.subject.hex() if r.subject else None)
        token = None
        if self.profile.flow == "pharmacy" and passes:
            with self._lock:
                for stale in [t for t, (_, _, at) in self._held.items() if now - at > HOLD_S]:
                    del self._held[stale]
                token = next(self._tokens)
                self._held[token] = (d, visit_id, now)
        self.tally.decision(logged, "device")
        self._remember(logged, now)
        group = self.grouper.place(source=event.source, frame_timestamp=event.frame_timestamp,
                                   codes_in_frame=event.codes_in_frame)
        return Shown(d, event.payload, event.frame_timestamp, event.decided_at, event.source, token, group,
                     visit_id, gate, repeat, now - r.iat if r.iat is not None else None, held=held)

    def handle_repeat(self, event: RepeatEvent) -> RepeatNote:
        """The same code again within the debounce window (`scanner.events.RepeatEvent`): not decided
        again, but answered with a short beep and an "already checked" note, never silence."""
        return repeat_note(event.payload, event.source, event.seconds_since)

    def guard_decide(self, shown: Shown, admit: bool) -> Shown:
        """The guard's Admit or Deny after a manual check (or on a repeat), logged as a visit of its own
        (`decided_by = "guard"`, `ref_visit` the device's row); Admit opens the gate."""
        if not (shown.manual_check or shown.repeat is not None):
            raise InputError("a guard decision is for a manual check or a repeat, not for this result")
        key = shown.visit_id or f"{shown.payload_key}@{shown.decided_at}"
        with self._lock:
            if key in self._guard_decided:
                raise InputError("the guard has already decided on this result")
            self._guard_decided[key] = None
            if len(self._guard_decided) > GUARD_DECIDED_KEPT:
                del self._guard_decided[next(iter(self._guard_decided))]
        from scanner.policy import Tone

        d = dataclasses.replace(shown.decision, admit=admit, tone=Tone.PASS if admit else Tone.STOP,
                                alert_guard=False, headline=GUARD_ADMITTED if admit else GUARD_DENIED,
                                guidance=GUARD_GUIDANCE)
        now = self.clock.now()
        gate = self.gate.on_decision(admit, "guard") if self.gate is not None else None
        visit_id = self._log(d, 0.0, self._flow_extra(d), now, decided_by="guard", gate=gate,
                             ref_visit=shown.visit_id)
        r = d.result
        if admit and r.code_id:
            self.admissions.add(r.code_id.hex(), now, visit_id, r.subject.hex() if r.subject else None)
        self.tally.decision(d, "guard")
        self._remember(d, now)
        log.info("guard decision admit=%s outcome=%s ref_visit=%s gate=%s", admit, d.outcome, shown.visit_id, gate)
        return dataclasses.replace(shown, decision=d, decided_at=time.monotonic(), token=None, visit_id=visit_id,
                                   gate=gate, repeat=None, decided_by="guard",
                                   group=self.grouper.place(source="guard", frame_timestamp=0.0, codes_in_frame=1))

    def acknowledge(self, shown: Shown | Sequence[Shown] | None, *, method: str, pin: str | None = None) -> AckResult:
        """The guard silences a red alert: a deliberate act ("hold" 1 s, the guard "key", or "pin"),
        refused without the PIN when `admin.ack_requires_pin` is set; every acknowledgement is logged with
        the visits on screen (each member of a family)."""
        if method not in ACK_METHODS:
            raise InputError(f"acknowledge: method {method!r} is not one of {', '.join(ACK_METHODS)}")
        members = [] if shown is None else [shown] if isinstance(shown, Shown) else list(shown)
        visits = ",".join(m.visit_id or "-" for m in members) or None
        if self.ack_pin_hash is not None:
            from scanner.pin import verify_pin

            if method != "pin" or not pin or not self.ack_pin_hash or not verify_pin(pin, self.ack_pin_hash):
                ack_log.warning("alert acknowledgement refused method=%s visit=%s", method, visits)
                return AckResult(False, PIN_NEEDED)
        self.tally.acknowledged()
        outcomes = ",".join(m.decision.outcome for m in members) or None
        ack_log.warning("alert acknowledged method=%s visit=%s outcome=%s at=%.0f", method, visits, outcomes,
                        self.clock.now())
        return AckResult(True)

    def set_family_held(self, held: bool) -> None:
        """The guard holds (True) or releases the family key: codes shown meanwhile share one screen."""
        self.grouper.set_held(held)

    def _remember(self, d: Decision, now: float) -> None:
        r = d.result
        self.last_decision_at = now
        with self._lock:
            self.recent.appendleft(RecentDecision(now, r.verdict.value, d.outcome, r.issuer or "-", d.admit))

    def recent_decisions(self) -> list[RecentDecision]:
        """Newest first; safe from the GUI thread while the pipeline adds more."""
        with self._lock:
            return list(self.recent)

    def register_purchase(self, token: int, categories: list[str]) -> bool:
        """Log the drug categories sold to an admitted pharmacy visit (already logged at the decision) as a
        registration row referring to it; no categories: nothing more to log."""
        with self._lock:
            held = self._held.pop(token, None)
        if held is None:
            return False
        d, visit_id, _ = held
        if categories:
            self._log(d, 0.0, {"drug_categories": list(categories)}, self.clock.now(), decided_by="clerk",
                      ref_visit=visit_id)
        return True

    def release_all(self) -> None:
        """Forget registrations that never came (their visits are logged already)."""
        with self._lock:
            self._held.clear()

    def close(self) -> None:
        """At stop: release the gate outputs (the relay off now, whatever pulse was running: a stopped
        device never leaves a turnstile open), then close the visit log."""
        if self.gate is not None:
            self.gate.close()
        if self.visit_log is not None:
            self.visit_log.close()

    def _flow_extra(self, d: Decision) -> JsonObject | None:
        if self.profile.flow == "school" and d.result.verdict.value == "ok":
            return {"school": {"role": "student", "direction": "in"}}
        return None

    def _log(self, d: Decision, latency_ms: float, extra: JsonObject | None, at: float, *,
             decided_by: str = "device", gate: str | None = None, ref_visit: str | None = None) -> str | None:
        """Log one row; its visit id, or None when it could not be logged (the decision still stands)."""
        if self.visit_log is None:
            return None
        from scanner.storage.visitlog import VisitRecord

        try:
            rec = VisitRecord.from_decision(d, device_id=self.device_id, checkpoint_id=self.checkpoint_id,
                                            clock_trusted=d.clock_trusted, latency_ms=latency_ms, extra=extra,
                                            at=at, decided_by=decided_by, gate=gate, ref_visit=ref_visit)
            if self.show_before_durable:
                # Shown at once, on disk right after (the log's writer thread, one visit in flight at most).
                self.visit_log.hand_off(rec, on_error=self._not_logged)
            else:
                self.visit_log.append(rec)
            self.storage_message = ""
            return rec.visit_id
        except CheckpointError as e:
            self._not_logged(None, e)
            return None

    def _not_logged(self, _rec: VisitRecord | None, e: CheckpointError) -> None:
        # The guard must know visits are not being recorded; the decision itself still stands.
        log.error("visit not logged: %s", e)
        self.storage_message = str(e)

    # --- settings from the admin panel ---------------------------------------------------------
    def set_profile(self, name: str, overrides: dict[str, JsonObject] | None = None) -> VenueProfile:
        from scanner.policy import load_profile

        profile = load_profile(name, self.profile_overrides() if overrides is None else overrides)
        self.checker.profile = profile  # one attribute store: the worker sees the old or the new one
        return profile

    def export_logs(self, directory: Path | None = None) -> Path:
        if self.visit_log is None:
            raise CheckpointError("no visit log is open")
        out_dir = Path(directory) if directory else self.data_dir / EXPORTS_DIR
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / time.strftime("visits-%Y%m%d-%H%M%S.jsonl", time.localtime(self.clock.now()))
        with open(path, "w", encoding="utf-8") as f:
            self.visit_log.export(f)
        return path

    def health(self) -> JsonObject:
        """This process's part of `appliance-health.json` (the sync agent sends it to the hub)."""
        return {"gate_output": self.gate.health() if self.gate is not None else {"state": "none"},
                "last_decision_ts": self.last_decision_at}
