"""`checkpoint demo`: the kiosk running on a generated world, fed by a synthetic camera.

A temporary data directory gets a generated root, regions and a national issuer, a trust list, status
lists and sample codes of every kind; the demo's camera (`scanner.demo.camera`) holds each sample (and a
family of three in one frame) in front of the kiosk in turn, through the real pipeline, decoder, checker
and visit log.
With a display it runs windowed until closed; without one it runs offscreen, prints every decision,
saves a screenshot of every screen into a folder it names, and stops after one round of samples.
`--duration` bounds either.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ui.model.view import shown_view

if TYPE_CHECKING:
    import argparse

    from scanner.session import Shown
    from ui.model.view import GroupView

FAMILY = "family"
# How long the offscreen demo waits, after its last scene, for the last visits to reach the hub.
UPLOAD_WAIT_S = 10.0


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_demo(out_dir: Path, *, profile: str = "transport", duration: float | None = None,
             screenshots: Path | None = None, windowed: bool | None = None, scene_seconds: float = 2.5,
             fps: float = 15.0, hub: bool = True) -> int:
    offscreen = not has_display() if windowed is None else not windowed
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from scanner.config import CameraSettings, SoundSettings
    from scanner.demo.camera import demo_camera, demo_scenes, family_codes
    from scanner.demo.session import demo_core
    from scanner.demo.world import build_demo_world
    from scanner.status import read_sync_status
    from scanner.storage.datadir import DataDir
    from scanner.storage.syncstate import request_sync
    from ui.app import KioskApp, KioskOptions
    from ui.sound import RecordingSound, system_sound

    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", line_buffering=True)
    app = QApplication.instance() or QApplication(["checkpoint-demo"])
    now = int(time.time())
    world = build_demo_world(out_dir / "world", now, qr=True)
    core, _ = demo_core(out_dir, profile=profile, world=world)
    local_hub = None
    if hub:
        from sync.demo import LocalHub

        local_hub = LocalHub(out_dir / "hub", world, core.device_id)
        try:
            url = local_hub.start()
            local_hub.start_agent(core.data_dir, interval=max(1.0, scene_seconds * 2))
            print(f"Local hub: {url} (mutual TLS; the sync agent uploads the visits and fetches the lists)")
        except Exception as e:  # the kiosk demo goes on without a hub: the status bar says "unknown"
            print(f"Local hub not started ({type(e).__name__}: {e}); running without one")
            local_hub.stop()
            local_hub = None
    names = {s.payload: s.name for s in world.samples.values()}
    family = family_codes(world)
    for p in family:
        names[p] = FAMILY
    source = demo_camera(demo_scenes(world, family), seed=now % 1000, scene_seconds=scene_seconds, fps=fps)
    sound = RecordingSound() if offscreen else system_sound(SoundSettings(volume=0.6), DataDir(core.data_dir).voice)
    camera = CameraSettings(debounce=min(4.0, scene_seconds))
    kiosk = KioskApp(core, [source], sound=sound, camera_settings=camera,
                  options=KioskOptions(result_seconds=max(0.5, scene_seconds * 0.8), venue_name="Demo · 演示"))
    w = kiosk.window
    shots = screenshots or (out_dir / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    shown: list[str] = []
    counter = [0]

    def grab(label: str) -> None:
        counter[0] += 1
        path = shots / f"{counter[0]:02d}-{label}.png"
        w.grab().save(str(path))

    def on_decided(s: Shown) -> None:
        name = names.get(s.payload_key, "?")
        shown.append(name)
        v = shown_view(s)
        who = " · ".join(t for t in (v.person, v.region_text) if t) or "-"
        if v.guardian:
            who += f" ({v.guardian.en})"
        reason = f" — {v.reason.en}" if v.reason else ""
        print(f"{time.strftime('%H:%M:%S')}  {'ADMIT' if v.admit else 'DENY ':5}  {v.icon} {name:<13} "
              f"{v.kind:<7} {who}  |  {v.headline.zh} / {v.headline.en}{reason}"
              f"  [{(s.decided_at - s.frame_timestamp) * 1000:.0f} ms]")

    def on_painted(group: GroupView) -> None:
        # Painting happens inside the `decided` signal, before on_decided runs: name the screen from
        # the window's own members, not from `shown`.
        grab(FAMILY if len(group.members) > 1 else names.get(w.members[-1].payload_key, "result"))
        if group.alert:
            # No guard at a demo: acknowledge after a moment so the round goes on.
            QTimer.singleShot(round(scene_seconds * 400), acknowledge)
        elif w.result.pharmacy.isVisible():
            QTimer.singleShot(round(scene_seconds * 400), register)

    def register() -> None:
        # No clerk either: register a fever-medicine purchase.
        if w.result.pharmacy.isVisible():
            w.result.pharmacy.buttons["antipyretic"].setChecked(True)
            w.result.pharmacy.confirm.click()
            print("          (demo: clerk registered antipyretic)")

    def acknowledge() -> None:
        if w.alert_pending:
            w.acknowledge()
            print("          (demo: guard acknowledged the alert)")

    kiosk.decided.connect(on_decided)
    w.result_painted.connect(on_painted)
    expected = [*world.samples, FAMILY]

    # Once every scene was shown, the offscreen demo waits (at most UPLOAD_WAIT_S) for the sync agent to
    # upload the last visits, so that its closing line can say whether all of them reached the hub.
    waiting_since: list[float] = []

    def uploaded() -> bool:
        """True when no visit waits for the hub (or there is no hub)."""
        if local_hub is None or core.visit_log is None:
            return True
        return not (core.visit_log.pending_count() or read_sync_status(core.data_dir, time.time()).pending)

    def check_done() -> None:
        if not (offscreen and all(n in shown for n in expected) and shown.count(FAMILY) >= len(family)
                and w.page() == "idle"):
            return
        if not waiting_since:
            waiting_since.append(time.monotonic())
            if not uploaded():
                request_sync(core.data_dir, time.time())  # a round now, not at the agent's next interval
        if uploaded() or time.monotonic() - waiting_since[0] > UPLOAD_WAIT_S:
            app.quit()

    poll = QTimer()
    poll.setInterval(200)
    poll.timeout.connect(check_done)
    w.resize(800, 480)
    if offscreen:
        w.show()
    else:
        w.showFullScreen() if windowed is False else w.show()
    print(f"Checkpoint kiosk demo — venue '{profile}' ({core.profile.title.en}), data in {out_dir}")
    print(f"Screenshots: {shots}")
    app.processEvents()
    kiosk.refresh_status()
    app.processEvents()
    grab("idle")
    kiosk.start()
    poll.start()
    if duration is not None:
        QTimer.singleShot(round(duration * 1000), app.quit)
    w.quit_requested.connect(app.quit)
    try:
        app.exec()
    finally:
        kiosk.stop()
        if local_hub is not None:
            local_hub.stop()
        core.close()
    missing = [n for n in expected if n not in shown]
    print(f"Shown: {', '.join(dict.fromkeys(shown))}")
    if missing:
        print(f"Not shown (duration too short?): {', '.join(missing)}")
    sync = read_sync_status(core.data_dir, time.time())
    synced = "" if sync.pending is None else f"; {sync.pending} not yet uploaded to the hub"
    print(f"Visits logged: {core.admitted_today} admitted, {core.denied_today} denied{synced}; "
          f"screenshots in {shots}")
    return 0


def run(args: argparse.Namespace) -> int:
    kwargs = dict(profile=args.profile, duration=args.duration,
                  screenshots=Path(args.screenshots) if args.screenshots else None,
                  windowed=True if args.windowed else None, scene_seconds=args.scene_seconds,
                  hub=not getattr(args, "no_hub", False))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        return run_demo(out, **kwargs)
    with tempfile.TemporaryDirectory(prefix="checkpoint-demo-") as tmp:
        if not args.screenshots:
            kwargs["screenshots"] = Path(tempfile.mkdtemp(prefix="checkpoint-demo-shots-"))
        return run_demo(Path(tmp), **kwargs)
