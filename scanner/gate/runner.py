"""The headless gate: `checkpoint gate`, the screenless appliance (a turnstile with a scanner and a lamp).

The same core as the kiosk without Qt: sources (camera, serial scanner, a keyboard-wedge scanner typing
into the console, stdin) -> pipeline -> `Session` (anti-passback, gate pulse, visit log) -> sounds and
spoken prompts (`scanner.sound`), with the systemd watchdog and `appliance-health.json`. With `--json`
one JSON object per line and event:

    {"event": "decision", "admit": bool, "verdict": str, "tone": str, "status": str|null, "code_id": str|null,
     "repeat": bool, "decided_by": "device"|"guard", ...}   (also outcome, headline, visit_id, gate,
                                                             issued_ago_s, latency_ms, source)
    {"event": "gate", "action": "open"|"deny", "pulse_ms": int, "ok": bool, "reason": "admit"|"guard", ...}
    {"event": "repeat", "source": str, "seconds_since": float, "note": str}   (the same code within debounce)
    {"event": "disconnected"|"reconnected"|"ended", "source": str, "message": str}
    {"event": "error", "stage": str, "message": str}
    {"event": "status", "clock_trusted": bool, "gate_problem": str|null, "audio_problem": str|null,
     "storage_problem": str|null}   (when one changes; storage: the visit log near its cap, full, not written)
    {"event": "guard", "message": str}   (a guard key with nothing to decide)

The guard decides a manual check (or a repeat) with a USB keypad on a text source: a line holding only
`gate.admit_key` ("+") or `gate.deny_key` ("-") is `Session.guard_decide` for the last such decision (after
the scans read before the key are decided, and within `GUARD_WINDOW_S` of it); its decision event has
`"decided_by": "guard"`, and an Admit opens the gate.

Without `--json` the same events as short lines for a person watching the console.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from keys.jsontypes import JsonObject
from scanner.events import DecisionEvent, ErrorEvent, PipelineEvent, RepeatEvent, SourceEvent
from scanner.gate.control import GateAction
from scanner.pipeline import Pipeline
from scanner.service.appliancehealth import ApplianceHealthReporter
from scanner.service.watchdog import Heartbeat
from scanner.session import Session, Shown
from scanner.sources.base import ScannedText, TextSource, gives_text

if TYPE_CHECKING:
    from scanner.config import Settings
    from scanner.sound.player import Announcer
    from scanner.sources.base import Source

log = logging.getLogger(__name__)

TICK_S = 1.0
GUARD_KEY_WAIT_S = 5.0  # a guard key waits at most this long for the scans before it to be decided
# A manual check (or repeat) waits this long for the guard's key; later, the person is long gone and a key
# would open the gate for whoever stands there now: the device's refusal stands.
GUARD_WINDOW_S = 60.0


def decision_json(shown: Shown, latency_ms: float | None = None) -> JsonObject:
    d = shown.logged
    r = d.result
    return {"event": "decision", "admit": d.admit, "verdict": r.verdict.value, "tone": str(d.tone),
            "status": r.status.value if r.status else None, "code_id": r.code_id.hex() if r.code_id else None,
            "repeat": shown.repeat is not None, "decided_by": shown.decided_by, "outcome": d.outcome,
            "headline": d.headline.en, "visit_id": shown.visit_id, "gate": shown.gate,
            "issued_ago_s": round(shown.issued_ago_s) if shown.issued_ago_s is not None else None,
            "latency_ms": round(latency_ms, 2) if latency_ms is not None else None, "source": shown.source}


def gate_json(a: GateAction) -> JsonObject:
    return {"event": "gate", "action": a.action, "pulse_ms": a.pulse_ms, "ok": a.ok, "reason": a.reason,
            "problem": a.problem or None}


def event_text(obj: JsonObject) -> str:
    """One console line for an event."""
    kind = obj["event"]
    if kind == "decision":
        mark = "ADMIT" if obj["admit"] else "REPEAT" if obj["repeat"] else "STOP"
        return f"{mark:6} {obj['headline']}  [{obj['outcome']}; gate {obj['gate'] or '-'}; {obj['source']}]"
    if kind == "gate":
        return f"gate   {obj['action']} {obj['pulse_ms']} ms" + ("" if obj["ok"] else f" FAILED: {obj['problem']}")
    if kind == "repeat":
        return f"repeat {obj['note']} ({obj['source']}, {obj['seconds_since']} s)"
    return " ".join(f"{k}={v}" for k, v in obj.items())


def default_sources(settings: Settings) -> list[str]:
    if settings.gate.sources:
        return list(settings.gate.sources)
    from scanner.sources.spec import no_camera

    specs = [] if no_camera(settings.camera.source) else [settings.camera.source]
    if settings.scanner.serial_port:
        specs.append(f"serial:{settings.scanner.serial_port}@{settings.scanner.baud}")
    return specs


class GuardKeys:
    """A text source (scanner, keypad, stdin) whose guard-key lines go to `on_key` instead of the checker."""

    def __init__(self, source: TextSource, keys: dict[str, bool], on_key: Callable[[bool], None]):
        self.source = source
        self.name = source.name
        self.live = source.live
        self.scanned_text = True
        self._keys = keys
        self._on_key = on_key

    def open(self) -> None:
        self.source.open()

    def close(self) -> None:
        self.source.close()

    def read(self) -> ScannedText | None:
        while True:
            item = self.source.read()
            if item is not None and item.text.strip() in self._keys:
                self._on_key(self._keys[item.text.strip()])
                continue
            return item


class GateRunner:
    """Runs one headless gate until `stop()`, `duration`, or every source has ended."""

    def __init__(self, session: Session, sources: Sequence[Source], *, settings: Settings, out: TextIO,
                 as_json: bool = False, sound: Announcer | None = None):
        self.session = session
        keys = {k: admit for k, admit in ((settings.gate.admit_key, True), (settings.gate.deny_key, False)) if k}
        self.sources: list[Source] = [self._with_keys(s, keys) for s in sources]
        self.settings = settings
        self._awaiting_guard: Shown | None = None
        self.out = out
        self.as_json = as_json
        self.sound = sound
        self._out_lock = threading.Lock()
        self._stop = threading.Event()
        self.errors = 0
        self.pipeline: Pipeline | None = None
        self._last_status: JsonObject | None = None
        if session.gate is not None:
            session.gate.add_listener(lambda a: self.emit(gate_json(a)))

    def emit(self, obj: JsonObject) -> None:
        line = json.dumps(obj, ensure_ascii=False) if self.as_json else event_text(obj)
        with self._out_lock:
            self.out.write(line + "\n")
            self.out.flush()

    def stop(self) -> None:
        self._stop.set()

    def _with_keys(self, source: Source, keys: dict[str, bool]) -> Source:
        if keys and gives_text(source):
            return GuardKeys(source, keys, self.guard)
        return source

    def guard(self, admit: bool) -> None:
        """The guard's Admit (True) or Deny for the last manual check or repeat (a source's reader thread).

        A key line answers the scans read before it: those still queued are decided first, so a keypad
        sharing the scanner's line, or a script piping codes and keys, never admits the wrong person."""
        if self.pipeline is not None:
            self.pipeline.wait_decided(timeout=GUARD_KEY_WAIT_S)
        with self._out_lock:
            shown, self._awaiting_guard = self._awaiting_guard, None
        if shown is None:
            self.emit({"event": "guard", "message": "nothing waits for the guard's decision"})
            return
        waited = time.monotonic() - shown.decided_at
        if waited > GUARD_WINDOW_S:
            self.emit({"event": "guard", "message": f"nothing waits for the guard's decision: the last manual "
                       f"check was {waited:.0f} s ago (at most {GUARD_WINDOW_S:.0f} s), its refusal stands"})
            return
        decided = self.session.guard_decide(shown, admit)
        self.emit(decision_json(decided))
        self._play(decided)

    # --- pipeline worker thread ----------------------------------------------------------------
    def _listener(self, event: PipelineEvent) -> None:
        if isinstance(event, DecisionEvent):
            for shown in self.session.take(event):
                with self._out_lock:
                    self._awaiting_guard = shown if shown.manual_check or shown.repeat is not None else None
                self.emit(decision_json(shown, (shown.decided_at - shown.frame_timestamp) * 1000))
                self._play(shown)
        elif isinstance(event, RepeatEvent):
            note = self.session.handle_repeat(event)
            self.emit({"event": "repeat", "source": event.source, "seconds_since": round(event.seconds_since, 3),
                       "note": note.text.en})
            if self.sound is not None:
                self.sound.play(note.sound)
        elif isinstance(event, SourceEvent):
            self.emit({"event": event.kind, "source": event.source, "message": event.message})
        elif isinstance(event, ErrorEvent):
            self.errors += 1
            self.emit({"event": "error", "stage": event.stage, "message": event.message})

    def _play(self, shown: Shown) -> None:
        if self.sound is None:
            return
        from scanner.sound.prompts import decision_words, tone_for

        d = shown.logged
        self.sound.play(tone_for(admit=d.admit, alert=d.alert_guard, check=shown.manual_check),
                        decision_words(d.outcome, d.headline))

    # --- main thread ---------------------------------------------------------------------------
    def run(self, duration: float | None = None) -> int:
        pipeline = Pipeline(self.sources, lambda payload, now: self.session.checker.check(payload, now),
                            self._listener, settings=self.settings.camera, now=self.session.clock.now)
        self.pipeline = pipeline
        visit_log = self.session.visit_log
        beat = Heartbeat.for_kiosk(last_frame=pipeline.frame_watch, alive=pipeline.alive, clock=self.session.clock,
                                   log_replaced=visit_log.replaced if visit_log is not None else None)
        health = ApplianceHealthReporter(self.session.data_dir)
        if self.sound is not None:
            from scanner.sound.voice import appliance_cues

            self.sound.prepare_in_background(appliance_cues(self.session.profile))
        self._tick(beat, health, pipeline)  # NTP and the hub's time are looked at before the first code
        pipeline.start()
        beat.ready()
        deadline = None if duration is None else time.monotonic() + duration
        next_tick = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_tick:
                    self._tick(beat, health, pipeline)
                    next_tick = now + TICK_S
                if deadline is not None and now >= deadline:
                    break
                if pipeline.wait(timeout=0.1):
                    break  # every source has ended (stdin closed, files read)
        finally:
            beat.stopping()
            pipeline.stop()
            self.session.release_all()
            self._tick(beat, health, pipeline, force=True)
        return 0

    def _tick(self, beat: Heartbeat, health: ApplianceHealthReporter, pipeline: Pipeline, *,
              force: bool = False) -> None:
        beat.tick()
        snap = self.session.snapshot()
        gate = self.session.gate
        audio = self.sound.problem if self.sound is not None and self.sound.silent else None
        status: JsonObject = {"event": "status", "clock_trusted": snap.clock_trusted,
                              "gate_problem": (gate.problem or None) if gate is not None else None,
                              "audio_problem": audio, "storage_problem": "; ".join(
                                  filter(None, (snap.extra.get("storage"), snap.extra.get("status_store")))) or None}
        if status != self._last_status:
            self._last_status = status
            self.emit(status)
        if force:
            health.every = 0
        health.report(frames_received=pipeline.frames_received if pipeline.last_frame_monotonic else None,
                      camera_ok=None, last_decision_ts=self.session.last_decision_at, errors_since_start=self.errors,
                      clock_trusted=snap.clock_trusted, audio_problem=audio,
                      gate_output=str(gate.health()["state"]) if gate is not None else None,
                      status_store_problem=snap.extra.get("status_store"))
