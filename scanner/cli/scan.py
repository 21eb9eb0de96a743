"""`checkpoint scan`: the scanning pipeline, headless.

Contract used by acceptance checks:
    checkpoint scan --source SPEC [trust options as in check] [--json] [--frames N | --duration S]
        one decision per line with its latency figures; source health changes as lines too. Exit 2 when
        a source ended on bad input (a missing file, a folder without a readable image), else 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from typing import TYPE_CHECKING

from keys.jsontypes import JsonObject
from scanner.cli.argtypes import duration, frame_rate
from scanner.cli.check import add_trust_options
from scanner.errors import InputError

if TYPE_CHECKING:
    from scanner.events import PipelineEvent


def event_json(event: PipelineEvent) -> JsonObject:
    from scanner.events import DecisionEvent, ErrorEvent, RepeatEvent

    if isinstance(event, DecisionEvent):
        return {"event": "decision", "source": event.source, "payload": event.payload,
                "latency_ms": round(event.latency_ms, 2), "decode_ms": round(event.decode_ms, 2),
                "decision_ms": round(event.decision_ms, 2), "codes_in_frame": event.codes_in_frame,
                "polygon": [[round(x, 1), round(y, 1)] for x, y in event.polygon] if event.polygon else None,
                "decision": event.decision.to_json()}
    if isinstance(event, ErrorEvent):
        return {"event": "error", "stage": event.stage, "message": event.message}
    if isinstance(event, RepeatEvent):
        return {"event": "repeat", "source": event.source, "seconds_since": round(event.seconds_since, 3)}
    return {"event": event.kind, "source": event.source, "message": event.message}


def event_line(event: PipelineEvent) -> str:
    from scanner.cli.check import format_line
    from scanner.events import DecisionEvent, ErrorEvent, RepeatEvent

    if isinstance(event, DecisionEvent):
        text = format_line(event.decision)
        return (f"{text}  [latency {event.latency_ms:.1f} ms: decode {event.decode_ms:.1f} ms, "
                f"decision {event.decision_ms:.1f} ms; {event.codes_in_frame} code(s) in frame; "
                f"{event.source}]")
    if isinstance(event, ErrorEvent):
        return f"error in {event.stage}: {event.message}"
    if isinstance(event, RepeatEvent):
        return f"{event.source}: the same code again after {event.seconds_since:.1f} s (already checked)"
    return f"{event.source}: {event.kind}: {event.message}"


def _show_payloads(args: argparse.Namespace) -> list[str]:
    shown = list(args.show)
    for path in args.show_file:
        try:
            with open(path, encoding="utf-8") as f:
                shown += [line.rstrip("\r\n") for line in f if line.strip()]
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror}") from None
    return shown


def run_scan(args: argparse.Namespace) -> int:
    from scanner.cli.check import checker_from_args
    from scanner.config import Settings, load_settings
    from scanner.events import DecisionEvent, SourceEvent
    from scanner.pipeline import Pipeline
    from scanner.sources.spec import no_camera, source_from_spec

    if args.frames is not None and args.frames < 1:
        raise InputError(f"--frames {args.frames}: must be at least 1")
    settings = load_settings(args.config) if args.config else Settings()
    cam = settings.camera
    spec = args.source or cam.source
    if no_camera(spec) and args.source:
        raise InputError(f"--source {spec!r}: no camera to read; name what to read (serial:PORT, stdin, ...)")
    if no_camera(spec):
        raise InputError(f"{settings.source}: camera.source is {spec!r} (this device has no camera); "
                         "name what to read with --source (serial:PORT, stdin, ...)")
    source = source_from_spec(spec, width=cam.width, height=cam.height, fps=cam.fps, baud=settings.scanner.baud,
                              payloads=_show_payloads(args), replay_fps=args.fps, loop=args.loop)
    checker = checker_from_args(args)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")

    done = threading.Event()
    lock = threading.Lock()
    counts = {"decisions": 0, "disconnected": 0, "bad_input": 0}

    def listener(event: PipelineEvent) -> None:
        with lock:
            if isinstance(event, DecisionEvent):
                counts["decisions"] += 1
            if isinstance(event, SourceEvent) and event.kind == "disconnected":
                counts["disconnected"] += 1
            if isinstance(event, SourceEvent) and event.bad_input:
                counts["bad_input"] += 1
            out = json.dumps(event_json(event), ensure_ascii=False) if args.json else event_line(event)
            stream = sys.stdout if args.json or isinstance(event, DecisionEvent) else sys.stderr
            print(out, file=stream, flush=True)

    if not args.debug:
        # Source trouble is printed as an event line below; the log would say it twice.
        logging.getLogger("scanner.pipeline").setLevel(logging.ERROR)
    pipeline = Pipeline(source, checker.check, listener, settings=cam, now=checker.clock.now)
    started = time.monotonic()
    pipeline.start()
    try:
        while not done.is_set():
            if pipeline.wait(0.05):
                break
            if args.frames is not None and pipeline.items_processed >= args.frames:
                break
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
    finally:
        pipeline.stop()
    if not args.json:
        print(f"{pipeline.items_processed} item(s) processed, {pipeline.frames_dropped} stale frame(s) "
              f"skipped, {counts['decisions']} decision(s)", file=sys.stderr)
    # A source with nothing it could read (a missing file, a folder of none) is bad input, as elsewhere.
    return 2 if counts["bad_input"] else 0


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("scan", help="run the scanning pipeline headless",
                       description="Read codes from a camera, files, a hardware scanner or synthetic scenes, "
                                   "check each and print one decision per line with latency figures.")
    s.add_argument("--source", metavar="SPEC",
                   help="camera:N, v4l2:DEVICE, picamera, file:PATH, dir:PATH, video:PATH, serial:PORT[@BAUD], "
                        "stdin, synthetic (default: camera.source from --config, else camera:0)")
    add_trust_options(s)
    s.add_argument("--json", action="store_true", help="one JSON object per line per event")
    stop = s.add_mutually_exclusive_group()
    stop.add_argument("--frames", type=int, metavar="N", help="stop after N frames or scans")
    stop.add_argument("--duration", type=duration, metavar="S", help="stop after S seconds")
    s.add_argument("--fps", type=frame_rate, metavar="F",
                   help="replay file sources at F frames per second like a camera (default: every frame)")
    s.add_argument("--loop", action="store_true", help="start file sources over at the end")
    s.add_argument("--show", action="append", default=[], metavar="PAYLOAD",
                   help="synthetic source: a code to show; repeatable")
    s.add_argument("--show-file", action="append", default=[], metavar="FILE",
                   help="synthetic source: codes to show, one per line")
    s.set_defaults(func=run_scan)
