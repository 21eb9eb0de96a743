"""`checkpoint kiosk`: the full-screen kiosk; the kiosk demo behind `checkpoint demo` lives in `ui.demo`.

Qt is imported inside the handlers only, so `checkpoint --help` and the other commands stay fast.
"""

from __future__ import annotations

import argparse
import os
import signal
from typing import TYPE_CHECKING

from scanner.cli.argtypes import duration

if TYPE_CHECKING:
    from scanner.config import Settings
    from scanner.service.watchdog import Heartbeat
    from ui.app import KioskApp


def run_kiosk(args: argparse.Namespace) -> int:
    from scanner.config import load_settings
    from scanner.service.logsetup import configure_logging

    settings = load_settings(args.config)
    configure_logging(settings.log)
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ui.app import build_kiosk

    app = QApplication.instance() or QApplication(["checkpoint-kiosk"])
    kiosk = build_kiosk(settings)
    w = kiosk.window
    w.quit_requested.connect(app.quit)
    # SIGTERM from systemd: leave the event loop cleanly so held visits are logged.
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    tick = QTimer()
    tick.start(250)  # lets Python run the signal handlers while Qt waits
    tick.timeout.connect(lambda: None)
    if args.windowed or not settings.display.fullscreen:
        w.resize(800, 480)
        w.show()
    else:
        from PySide6.QtCore import Qt

        # A kiosk: no frame to drag, no pointer over the result (touch works regardless).
        w.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
        QApplication.setOverrideCursor(Qt.CursorShape.BlankCursor)
        w.showFullScreen()
    kiosk.start()
    beat = heartbeat(kiosk, settings)
    # READY=1 once the event loop has drawn the first screen; then one beat a second on the GUI thread.
    QTimer.singleShot(0, beat.ready)
    beat_timer = QTimer()
    beat_timer.timeout.connect(beat.tick)
    beat_timer.start(1000)
    if args.duration:
        QTimer.singleShot(round(args.duration * 1000), app.quit)
    try:
        app.exec()
    finally:
        beat_timer.stop()
        beat.stopping()
        kiosk.stop()
        kiosk.core.close()
    return 0


def heartbeat(kiosk: KioskApp, settings: Settings) -> Heartbeat:
    """systemd's view of the kiosk: the watchdog is pinged only while the pipeline lives and a camera that is
    up delivers frames, so a frozen camera or a hung decoder gets the service restarted; a camera that is
    missing or unplugged is shown on screen and retried, and the scanners go on working."""
    from scanner.service.watchdog import Heartbeat

    def last_frame() -> float | None:
        return kiosk.pipeline.frame_watch() if kiosk.pipeline is not None else None

    def alive() -> bool:
        return kiosk.pipeline is not None and bool(kiosk.pipeline.alive())

    visit_log = kiosk.core.visit_log
    return Heartbeat.for_kiosk(last_frame=last_frame, alive=alive, clock=kiosk.core.clock,
                               log_replaced=visit_log.replaced if visit_log is not None else None)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kiosk", help="run the full-screen kiosk")
    p.add_argument("--config", required=True, metavar="FILE", help="settings file (TOML)")
    p.add_argument("--windowed", action="store_true", help="a normal window instead of full screen")
    p.add_argument("--offscreen", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--duration", type=duration, help=argparse.SUPPRESS)
    p.set_defaults(func=run_kiosk)
    register_demo(sub)


def run_demo(args: argparse.Namespace) -> int:
    """`checkpoint demo`: the kiosk on a generated world, or with `--table` the decision table alone."""
    if not args.table:
        from ui.demo import run

        return int(run(args))
    import tempfile
    from pathlib import Path

    from scanner.demo.table import run_table

    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        return run_table(out, args.profile)
    with tempfile.TemporaryDirectory(prefix="checkpoint-demo-") as tmp:
        return run_table(Path(tmp), args.profile)


def register_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demo on generated keys, lists and sample codes")
    p.add_argument("--out", metavar="DIR", help="keep the generated world in DIR (default: a temp dir)")
    p.add_argument("--profile", default="transport", help="venue profile to decide with")
    p.add_argument("--table", action="store_true", help="print the decision table only (headless)")
    p.add_argument("--duration", type=duration, metavar="S", help="stop the kiosk demo after S seconds")
    p.add_argument("--screenshots", metavar="DIR", help="where the kiosk demo saves its screenshots")
    p.add_argument("--windowed", action="store_true", help="open a window even without a DISPLAY variable")
    p.add_argument("--scene-seconds", type=duration, default=2.5, metavar="S",
                   help="how long each sample code is shown to the camera (default 2.5)")
    p.add_argument("--no-hub", action="store_true", help="no local hub and sync agent on loopback")
    p.set_defaults(func=run_demo)
