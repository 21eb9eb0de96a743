"""`checkpoint gate`: the screenless gate (scanner or camera -> decision -> turnstile, sounds, visit log).

Contract used by acceptance checks and the systemd unit:
    checkpoint gate --config FILE [--source SPEC ...] [--duration S] [--json]
        runs until SIGTERM, S seconds, or every source has ended (stdin closed); one event per line on
        standard output (JSON objects with --json, see `scanner.gate.runner`); logs go to standard error.
"""

from __future__ import annotations

import argparse
import signal
import sys

from scanner.cli.argtypes import duration


def run_gate(args: argparse.Namespace) -> int:
    from scanner.config import load_settings
    from scanner.gate.build import build_session
    from scanner.gate.runner import GateRunner, default_sources
    from scanner.service.logsetup import configure_logging
    from scanner.sound.player import open_announcer
    from scanner.sources.spec import source_from_spec
    from scanner.storage.datadir import DataDir

    settings = load_settings(args.config)
    # Standard output carries the events; the log goes to standard error (the journal under systemd).
    configure_logging(settings.log, stream=sys.stderr)
    cam = settings.camera
    specs = args.source or default_sources(settings)
    sources = [source_from_spec(spec, width=cam.width, height=cam.height, fps=cam.fps, baud=settings.scanner.baud,
                                replay_fps=cam.fps) for spec in specs]
    if not sources:
        from scanner.errors import ConfigError

        raise ConfigError(settings.source, ["gate.sources: no source (set camera.source, scanner.serial_port or "
                                            "gate.sources, or pass --source)"])
    # No screen to paint: a decision event goes out only once its visit is on disk.
    session = build_session(settings, show_before_durable=False)
    sound = open_announcer(settings.sound, DataDir(session.data_dir).voice) if settings.sound.enabled else None
    runner = GateRunner(session, sources, settings=settings, out=sys.stdout, as_json=args.json, sound=sound)
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    signal.signal(signal.SIGINT, lambda *_: runner.stop())
    try:
        return runner.run(args.duration)
    finally:
        session.close()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gate", help="run the screenless gate (scanner/camera, turnstile relay, sounds)")
    p.add_argument("--config", required=True, metavar="FILE", help="settings file (TOML)")
    p.add_argument("--source", action="append", metavar="SPEC",
                   help="where codes come from (repeatable): camera:N, serial:PORT, stdin, ... "
                        "(default: gate.sources, else camera.source and scanner.serial_port)")
    p.add_argument("--duration", type=duration, metavar="S", help="stop after S seconds")
    p.add_argument("--json", action="store_true", help="one JSON object per event")
    p.set_defaults(func=run_gate)
