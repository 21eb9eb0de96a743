"""Frame-to-decision latency of the whole pipeline, replaying gate scenes at 30 fps like a camera.

Pre-rendered gate frames (`bench/corpus.py` scenes: a code held in view for `--hold` frames, then
`--gap` frames of an empty gate) are handed out at the camera's rate by a live source; the real
pipeline decodes the newest frame and runs the real `Checker` (demo world: trust list, status lists,
venue policy). Printed: latency from the capture of the decided frame to the decision (p50/p95/max),
time from the first frame showing a code to its decision, decode and decision ms, frames skipped.

Goal: frame-to-decision p95 <= 50 ms at 30 fps.
    .venv/bin/python -m bench.pipeline [--scenes 40] [--fps 30] [--size 640x480]   # all cores, then one
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time

import numpy as np

from bench import cores
from bench.corpus import empty_corpus
from keys.keyfile import load_public_key
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.checker import Checker
from scanner.clock import SystemClock
from scanner.config import CameraSettings
from scanner.demo.world import build_demo_world
from scanner.events import DecisionEvent
from scanner.pipeline import Pipeline
from scanner.policy import load_profile
from scanner.sources.base import Frame
from scanner.sources.synthetic import gate_frame


class ReplaySource:
    """Pre-rendered frames at a fixed rate, stamped when handed out, as a camera would."""

    live = True
    name = "replay"

    def __init__(self, frames: list[np.ndarray], fps: float):
        self.frames, self.interval = frames, 1.0 / fps
        self.stamps: list[float] = []
        self._stop = threading.Event()

    def open(self) -> None:
        self._next = time.monotonic()

    def read(self) -> Frame | None:
        i = len(self.stamps)
        if i >= len(self.frames) or self._stop.is_set():
            return None
        delay = self._next - time.monotonic()
        if delay > 0 and self._stop.wait(delay):
            return None
        self._next += self.interval
        now = time.monotonic()
        self.stamps.append(now)
        return Frame(self.frames[i], now, i, self.name)

    def close(self) -> None:
        self._stop.set()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=40)
    ap.add_argument("--hold", type=int, default=20, help="frames a code stays in view (varied by up to ±4)")
    ap.add_argument("--gap", type=int, default=10, help="empty frames between people (varied by up to ±3)")
    ap.add_argument("--fps", type=float, default=30)
    ap.add_argument("--size", default="640x480")
    args = ap.parse_args()
    # Both runs keep OpenCV's default thread count: under taskset it already is one (OpenCV counts
    # the CPUs of the affinity mask) and starts no worker thread, so the two runs are set up alike.
    cores.header("bench/pipeline.py")
    w, h = (int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        world = build_demo_world(tmp, int(time.time()))
        trust = TrustStore.from_file(world.trust_list_path, [load_public_key(world.anchor_path)])
        status = StatusStore.open(":memory:")
        for p in world.status_list_paths:
            status.apply(p.read_bytes(), trust, str(p))
        checker = Checker(trust=trust, status=status, profile=load_profile("transport", {}), clock=SystemClock())
        samples = [s.payload for s in world.samples.values()]

        # Each scene: one person's code (cycling through the samples, so none repeats within the
        # debounce), held for about `hold` frames with fresh sensor noise, then an empty gate. The
        # lengths vary, so that the scene period is no multiple of the decoder's every-Nth-frame cycle
        # and decisions land on its costly frames too.
        rng = np.random.default_rng(7)
        gaps = empty_corpus(args.scenes, w, h, seed=4)
        frames: list[np.ndarray] = []
        starts: list[tuple[int, str]] = []
        for i, gap in enumerate(gaps):
            payload = samples[i % len(samples)]
            scene, _ = gate_frame(rng, [payload], w, h)
            starts.append((len(frames), payload))
            for _ in range(max(1, args.hold + int(rng.integers(-4, 5)))):
                frames.append(np.clip(scene + rng.normal(0, 2, scene.shape), 0, 255).astype(np.uint8))
            frames += [gap.image] * max(1, args.gap + int(rng.integers(-3, 4)))

        events: list[DecisionEvent] = []
        src = ReplaySource(frames, args.fps)
        pipeline = Pipeline(src, checker.check, lambda e: events.append(e) if isinstance(e, DecisionEvent) else None,
                            settings=CameraSettings(debounce=2.0))
        print(f"replaying {len(frames)} frames ({args.scenes} people) at {args.fps:g} fps, {w}x{h}")
        t0 = time.perf_counter()
        pipeline.start()
        pipeline.wait(len(frames) / args.fps + 60)
        pipeline.stop()
        wall = time.perf_counter() - t0

    latency = [e.latency_ms for e in events]
    first_seen = []
    missed = 0
    for i, (start, payload) in enumerate(starts):
        # Each sample code recurs every len(samples) scenes; match the decision to this showing.
        showing = [x for x in events if x.payload == payload and x.frame_timestamp >= src.stamps[start]
                   and (i + 1 == len(starts) or x.frame_timestamp < src.stamps[starts[i + 1][0]])]
        if not showing:
            missed += 1
            continue
        ev = showing[0]
        first_seen.append((ev.decided_at - src.stamps[start]) * 1000)
    print(f"  decisions {len(events)} for {len(starts)} people shown, missed {missed}; wall {wall:.1f} s")
    print(f"  frame-to-decision ms  p50 {pct(latency, 50):6.2f}  p95 {pct(latency, 95):6.2f}  "
          f"max {max(latency, default=float('nan')):6.2f}")
    print(f"  code-in-view-to-decision ms  p50 {pct(first_seen, 50):6.2f}  p95 {pct(first_seen, 95):6.2f}  "
          f"max {max(first_seen, default=float('nan')):6.2f}")
    print(f"  decode ms  p50 {pct([e.decode_ms for e in events], 50):6.2f}  "
          f"p95 {pct([e.decode_ms for e in events], 95):6.2f};  decision ms  "
          f"p50 {pct([e.decision_ms for e in events], 50):6.2f}  p95 {pct([e.decision_ms for e in events], 95):6.2f}")
    print(f"  frames received {pipeline.frames_received}, decoded {pipeline.items_processed}, "
          f"skipped as stale {pipeline.frames_dropped}")
    cores.then_one_core("bench.pipeline")


if __name__ == "__main__":
    main()
