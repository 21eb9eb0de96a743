"""The running kiosk: settings → stores, checker, visit log, sources, pipeline, window, all wired by signals.

The pipeline (`scanner.pipeline.Pipeline`) runs on its own threads; its listener turns each event into
a Qt signal, so widgets are only ever touched on the GUI thread. The camera preview is tapped from the
frame source on the reader thread (`ui.preview.PreviewTap`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from scanner.service.appliancehealth import ApplianceHealthReporter
from scanner.session import Session, Shown
from scanner.sound.player import Announcer
from scanner.sources.base import gives_frames
from scanner.status import StatusSnapshot
from ui.model.exports import MOUNTS_FILE, USB_ROOTS
from ui.model.pinauth import PinGate
from ui.preview import PreviewTap
from ui.widgets.guardkeys import GuardKeys
from ui.widgets.window import KioskWindow

if TYPE_CHECKING:

    from keys.jsontypes import JsonObject
    from scanner.clock import Clock
    from scanner.config import CameraSettings, Settings
    from scanner.events import ErrorEvent, PipelineEvent, SourceEvent
    from scanner.pipeline import Pipeline
    from scanner.policy import VenueProfile
    from scanner.sources.base import Source
    from scanner.sources.scanners import WedgeSource

log = logging.getLogger(__name__)

@dataclass
class KioskOptions:
    result_seconds: float = 4.0
    min_result_seconds: float = 0.8
    # The guard's keypad (`[display] admit_key` …) and whether acknowledging an alert needs the PIN.
    keys: tuple[str, str, str, str] = ("Return", "Backspace", "Space", "F2")
    ack_requires_pin: bool = False
    status_interval_ms: int = 1000
    health_every: float = 10.0  # seconds between writes of appliance-health.json
    venue_name: str = ""
    admin_timeout_s: float = 60.0
    # Where USB sticks are looked for (ui.model.exports).
    mounts_file: Path = MOUNTS_FILE
    usb_roots: tuple[str, ...] = USB_ROOTS


class KioskApp(QObject):
    """Owns the pipeline and the window; `start()`, `stop()`."""

    decided = Signal(object)  # Shown
    repeated = Signal(object)  # RepeatNote
    source_event = Signal(object)
    error_event = Signal(object)
    preview = Signal(QImage)

    def __init__(self, core: Session, sources: Sequence[Source], *, sound: Announcer,
                 camera_settings: CameraSettings | None = None, options: KioskOptions | None = None,
                 pin_gate: PinGate | None = None, wedge: WedgeSource | None = None,
                 profile_overrides: dict[str, JsonObject] | None = None, sync_now: Callable[[], str] | None = None):
        super().__init__()
        from scanner.policy import builtin_names

        self.core = core
        self.options = options or KioskOptions()
        self.sound = sound
        self.wedge = wedge
        self.profile_overrides = profile_overrides or {}
        self._sync_now = sync_now
        self.camera_ok = True
        self.camera_message = ""
        self.scanner_problems: dict[str, str] = {}  # scanner name -> why it is down
        self.errors = 0
        self.health = ApplianceHealthReporter(core.data_dir, every=self.options.health_every)
        self.events: list[PipelineEvent] = []  # every pipeline event, for the demo's report
        extra = {**self.profile_overrides, **core.profile_overrides()}
        names = list(builtin_names()) + [n for n in extra if n not in builtin_names()]
        self.window = KioskWindow(sound=sound, result_seconds=self.options.result_seconds,
                                  min_result_seconds=self.options.min_result_seconds,
                                  fast_stream=core.fast_stream, pin_gate=pin_gate, profiles=names,
                                  admin_timeout_s=self.options.admin_timeout_s,
                                  keys=GuardKeys.named(*self.options.keys), recent=core.recent_decisions)
        self.window.ack_via_core = True
        self.window.ack_needs_pin = self.options.ack_requires_pin
        self.window.set_venue(core.profile.name, core.profile.title, self.options.venue_name)
        self.sources: list[Source] = [PreviewTap(s, self.preview.emit) if gives_frames(s) else s for s in sources]
        if wedge is not None and wedge not in self.sources:
            self.sources.append(wedge)
        self.has_camera = any(isinstance(s, PreviewTap) for s in self.sources)
        self.window.set_camera(self.has_camera)
        self.pipeline: Pipeline | None = None
        self._camera_settings = camera_settings

        self.decided.connect(self.window.show_decision)
        self.repeated.connect(self.window.show_repeat)
        self.window.guard_decision.connect(self._guard_decide)
        self.window.ack_requested.connect(self._acknowledge)
        self.window.family_held.connect(core.set_family_held)
        self.preview.connect(self.window.set_preview)
        self.source_event.connect(self._on_source)
        self.error_event.connect(self._on_error)
        self.window.purchase.connect(self._purchase)
        self.window.profile_chosen.connect(self._switch_profile)
        self.window.export_requested.connect(self._export)
        self.window.sync_requested.connect(self._sync)
        self.window.time_confirmed.connect(self._confirm_time)
        self.window.admin.storage_acknowledged.connect(self._acknowledge_storage)
        self.window.admin.volume_changed.connect(self._save_volume)
        self.window.admin.mute_changed.connect(self._save_muted)
        if wedge is not None:
            self.window.key_text.connect(wedge.feed)
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(self.options.status_interval_ms)
        self.status_timer.timeout.connect(self.refresh_status)

    # --- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        from scanner.pipeline import Pipeline

        self.pipeline = Pipeline(self.sources, lambda payload, now: self.core.checker.check(payload, now),
                                 self._listener, settings=self._camera_settings, now=self.core.clock.now)
        self.pipeline.start()
        self.prepare_voice()
        self.refresh_status()
        self.status_timer.start()

    def prepare_voice(self) -> None:
        """Synthesise the current profile's spoken prompts in the background (cached in the data dir)."""
        from scanner.sound.voice import appliance_cues

        self.sound.prepare_in_background(appliance_cues(self.core.profile))

    def stop(self) -> None:
        self.status_timer.stop()
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None
        self.window.go_idle()
        self.core.release_all()

    # --- pipeline thread → signals ---------------------------------------------------------------
    def _listener(self, event: PipelineEvent) -> None:
        from scanner.events import DecisionEvent, ErrorEvent, RepeatEvent, SourceEvent

        self.events.append(event)
        if isinstance(event, DecisionEvent):
            for shown in self.core.take(event):
                self.decided.emit(shown)
        elif isinstance(event, RepeatEvent):
            self.repeated.emit(self.core.handle_repeat(event))
        elif isinstance(event, SourceEvent):
            self.source_event.emit(event)
        elif isinstance(event, ErrorEvent):
            self.error_event.emit(event)

    # --- the guard (GUI thread) ----------------------------------------------------------------------
    def _guard_decide(self, shown: Shown, admit: bool) -> None:
        from scanner.errors import CheckpointError

        try:
            result = self.core.guard_decide(shown, admit)
        except CheckpointError as e:
            log.warning("guard decision not taken: %s", e)
            return
        self.window.show_guard_result(result)

    def _acknowledge(self, method: str, pin: str) -> None:
        answer = self.core.acknowledge(list(self.window.members), method=method, pin=pin or None)
        self.window.ack_answer(answer.ok, answer.message)

    # Slots return None: PySide6 mishandles a Python bool handed back to Qt from a slot.
    def _purchase(self, token: int, categories: list[str]) -> None:
        self.core.register_purchase(token, categories)

    def _on_error(self, e: ErrorEvent) -> None:
        self.errors += 1
        log.error("pipeline %s error: %s", e.stage, e.message)

    def _on_source(self, ev: SourceEvent) -> None:
        """A camera or scanner went down or came back: the banner says which, the others keep working."""
        camera = any(isinstance(s, PreviewTap) and s.name == ev.source for s in self.sources)
        if ev.kind == "disconnected":
            if camera:
                self.camera_ok, self.camera_message = False, ev.message
            else:
                self.scanner_problems[ev.source] = ev.message
        elif ev.kind == "reconnected":
            if camera:
                self.camera_ok, self.camera_message = True, ""
            else:
                self.scanner_problems.pop(ev.source, None)
        self.refresh_status()

    def refresh_status(self) -> None:
        snap = self.snapshot()
        self.window.set_status(snap)
        p = self.core.profile  # the hub may have published new words for it
        self.window.set_venue(p.name, p.title, self.options.venue_name)
        self._report_health(snap)

    def _report_health(self, snap: StatusSnapshot) -> None:
        """appliance-health.json for the sync agent to send to the hub (written every few seconds)."""
        recent = self.core.recent_decisions()
        self.health.report(frames_received=self.pipeline.frames_received if self.pipeline else None,
                           camera_ok=self.camera_ok if self.has_camera else None, camera_message=self.camera_message,
                           last_decision_ts=recent[0].at if recent else None, errors_since_start=self.errors,
                           clock_trusted=snap.clock_trusted,
                           audio_problem=self.sound.problem if self.sound.silent else None,
                           status_store_problem=snap.extra.get("status_store"))

    def snapshot(self) -> StatusSnapshot:
        """The core's snapshot plus what only the kiosk knows: whether anything can be heard."""
        from ui.model.status import AUDIO_PROBLEM, SCANNER_PROBLEM, VOICE_PROBLEM

        s = self.core.snapshot(camera_ok=self.camera_ok, camera_message=self.camera_message)
        silent, problem = self.sound.silent, self.sound.problem
        extra = {**s.extra, AUDIO_PROBLEM: problem if silent else None,
                 VOICE_PROBLEM: None if silent else problem,
                 SCANNER_PROBLEM: "; ".join(self.scanner_problems.values()) or None}
        return dataclasses.replace(s, extra=extra)

    # --- admin requests --------------------------------------------------------------------------
    def _switch_profile(self, name: str) -> None:
        from scanner.errors import CheckpointError

        try:
            p = self.core.set_profile(name)
        except CheckpointError as e:
            self.window.admin_message(str(e))
            return
        self._update_prefs(profile=p.name)
        self.prepare_voice()
        self.window.fast_stream = self.core.fast_stream
        self.window.set_venue(p.name, p.title, self.options.venue_name)
        self.window.admin_message(f"场所已切换 / Venue profile: {p.title.zh} · {p.title.en}")
        self.refresh_status()

    def _save_volume(self, volume: float) -> None:
        self._update_prefs(volume=volume)

    def _save_muted(self, muted: bool) -> None:
        self._update_prefs(muted=muted)

    def _update_prefs(self, **changes: object) -> None:
        from ui.model.prefs import KioskPrefs

        prefs = KioskPrefs.load(self.core.data_dir)
        for key, value in changes.items():
            setattr(prefs, key, value)
        prefs.save(self.core.data_dir)

    def _export(self) -> None:
        from scanner.errors import CheckpointError
        from ui.model.exports import EXPORT_FOLDER, usb_stick

        stick = usb_stick(self.options.mounts_file, self.options.usb_roots)
        try:
            path = self.core.export_logs(stick / EXPORT_FOLDER if stick else None)
            if stick:
                os.sync()  # the stick may be pulled as soon as the message shows
        except (CheckpointError, OSError) as e:
            self.window.admin_message(f"导出失败 / Export failed: {e}")
            return
        if stick:
            self.window.admin_message(f"已导出到U盘，可以拔出 / Exported to the USB stick: {path}")
        else:
            self.window.admin_message(f"未找到U盘，已存入本机 / No USB stick; exported: {path}")

    def _confirm_time(self) -> None:
        """The administrator says the time shown is right: the trusted clock takes it (and logs it)."""
        from scanner.clock import TrustedClock

        clock = self.core.clock
        if not isinstance(clock, TrustedClock):
            self.window.admin_message("本机时钟无需确认 / This clock needs no confirmation")
            return
        state = clock.confirm_admin()
        self.window.admin_message(time.strftime("时间已确认 / Clock confirmed: %Y-%m-%d %H:%M",
                                                time.localtime(state.now)))

    def _acknowledge_storage(self) -> None:
        from scanner.errors import CheckpointError

        try:
            self.core.acknowledge_storage_notice()
        except CheckpointError as e:
            self.window.admin_message(f"未能确认 / Not recorded: {e}")
            return
        self.window.admin_message("存储告警已确认 / Storage notice acknowledged")
        self.refresh_status()

    def _sync(self) -> None:
        if self._sync_now is not None:
            self.window.admin_message(self._sync_now())
            return
        from scanner.storage.syncstate import request_sync

        # The sync agent runs as its own service; it takes the request within a second.
        try:
            request_sync(self.core.data_dir, time.time())
        except OSError as e:
            self.window.admin_message(f"无法请求同步 / Cannot request a sync: {e.strerror}")
            return
        self.window.admin_message("已请求同步 / Sync requested")


def build_core(settings: Settings, *, clock: Clock | None = None) -> Session:
    """Stores, checker, clock, gate and visit log from the settings, with the profile chosen on site."""
    from scanner.gate.build import build_session

    return build_session(settings, clock=clock, profile=_venue_profile(settings))


def _venue_profile(settings: Settings) -> VenueProfile:
    """The profile chosen in the admin panel, else the config's; a stale choice falls back to the config."""
    from scanner.errors import ConfigError
    from scanner.policy import load_profile
    from ui.model.prefs import KioskPrefs

    chosen = KioskPrefs.load(settings.data_dir).profile
    if chosen and chosen != settings.venue.profile:
        try:
            return load_profile(chosen, settings.profiles)
        except ConfigError as e:
            log.warning("venue profile %r chosen on site is no longer valid (%s); using %r from %s", chosen, e,
                        settings.venue.profile, settings.source)
    return load_profile(settings.venue.profile, settings.profiles)


def build_kiosk(settings: Settings, *, core: Session | None = None, sources: Sequence[Source] | None = None,
                sound: Announcer | None = None) -> KioskApp:
    """The kiosk the config describes: camera from `camera.source` (none: `no_camera`), serial scanner,
    keyboard wedge."""
    from scanner.sources.scanners import WedgeSource
    from scanner.sources.spec import no_camera, source_from_spec
    from scanner.storage.datadir import DataDir
    from ui.sound import system_sound

    core = core or build_core(settings)
    if sources is None:
        cam = settings.camera
        # Image files and videos are paced like a camera and looped, so a pilot can run on recordings.
        sources = [] if no_camera(cam.source) else [
            source_from_spec(cam.source, width=cam.width, height=cam.height, fps=cam.fps, replay_fps=cam.fps,
                             loop=True)]
        if settings.scanner.serial_port:
            sources.append(source_from_spec(f"serial:{settings.scanner.serial_port}", baud=settings.scanner.baud))
    if sound is None:
        from ui.model.prefs import KioskPrefs

        prefs = KioskPrefs.load(settings.data_dir)
        sound = system_sound(settings.sound, DataDir(core.data_dir).voice, volume=prefs.volume, muted=prefs.muted)
    gate = PinGate(settings.admin.pin_hash, max_attempts=settings.admin.max_attempts,
                   lockout_seconds=settings.admin.lockout_seconds, data_dir=settings.data_dir)
    d = settings.display
    options = KioskOptions(result_seconds=d.result_seconds, min_result_seconds=d.min_result_seconds,
                           keys=(d.admit_key, d.deny_key, d.guard_key, d.family_key),
                           ack_requires_pin=settings.admin.ack_requires_pin, venue_name=settings.venue.name,
                           admin_timeout_s=settings.admin.idle_timeout)
    return KioskApp(core, sources, sound=sound, camera_settings=settings.camera, options=options, pin_gate=gate,
                 wedge=WedgeSource(settings.scanner.wedge_timeout), profile_overrides=settings.profiles)
