"""The scanning pipeline with real sources and real decoding: ordering, debounce, latest frame wins,
camera disconnect/reconnect, and surviving exceptions."""

from __future__ import annotations

import queue
import threading

import cv2
import numpy as np
import pytest

from scanner.config import CameraSettings
from scanner.events import DecisionEvent, ErrorEvent, RepeatEvent, SourceEvent
from scanner.pipeline import REAPPEAR_S, Pipeline
from scanner.qr.decoder import FrameDecoder
from scanner.sources.base import Frame
from scanner.sources.camera import OpenCVSource
from scanner.sources.files import FileSource
from scanner.sources.scanners import LineSource
from scanner.sources.synthetic import SyntheticSource, render_qr
from tests.helpers.fakes import FakeCamera
from tests.helpers.payloads import fresh_payloads

TIMEOUT = 60


@pytest.fixture(scope="module")
def payloads() -> list[str]:
    return fresh_payloads(5)


def card(payloads: list[str], size=(360, 640)) -> np.ndarray:
    img = np.full(size, 225, np.uint8)
    for i, p in enumerate(payloads):
        code = render_qr(p, module_px=3)
        x = 10 + i * (code.shape[1] + 10)
        img[10:10 + code.shape[0], x:x + code.shape[1]] = code
    return img


def echo(payload: str, now: float) -> tuple[str, float]:
    return (payload, now)


def run_to_end(source, **kw) -> tuple[list, Pipeline]:
    events: list = []
    p = Pipeline(source, kw.pop("check", echo), events.append, **kw)
    p.start()
    assert p.wait(TIMEOUT)
    p.stop()
    return events, p


def decisions(events) -> list[DecisionEvent]:
    return [e for e in events if isinstance(e, DecisionEvent)]


def test_folder_of_images_is_decided_in_order_with_timings(tmp_path, payloads):
    for i, p in enumerate(payloads):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), card([p]))
    cv2.imwrite(str(tmp_path / "05.png"), card(payloads[3:5]))  # a parent with two phones
    events, p = run_to_end(FileSource(tmp_path), settings=CameraSettings(debounce=0))
    got = decisions(events)
    assert [e.payload for e in got] == [*payloads, payloads[3], payloads[4]]
    assert [e.codes_in_frame for e in got] == [1, 1, 1, 1, 1, 2, 2]
    assert all(e.decision == (e.payload, e.decision[1]) for e in got)
    assert all(e.decode_ms > 0 and e.decision_ms >= 0 and e.latency_ms >= e.decode_ms for e in got)
    assert all(e.source.endswith(".png") and e.polygon is not None for e in got)
    assert isinstance(events[-1], SourceEvent) and events[-1].kind == "ended"
    assert p.frames_received == 6 and p.frames_dropped == 0 and p.items_processed == 6


def test_the_same_code_held_in_view_is_decided_once(payloads):
    # Two showings of A with a short gap (debounced), then B, then A again after a long gap.
    src = SyntheticSource([payloads[0], payloads[0], payloads[1]], fps=None, show_frames=4, gap_frames=2,
                          frames=18, seed=3)
    fps30 = _Retimed(src, 1 / 30)
    events, _ = run_to_end(fps30, settings=CameraSettings(debounce=1.0))
    assert [e.payload for e in decisions(events)] == [payloads[0], payloads[1]]
    # Without debounce every showing is a decision: frames REAPPEAR_S or more apart...
    src = SyntheticSource([payloads[0]], fps=None, show_frames=3, gap_frames=0, frames=3, seed=3)
    events, _ = run_to_end(_Retimed(src, REAPPEAR_S), settings=CameraSettings(debounce=0))
    assert [e.payload for e in decisions(events)] == [payloads[0]] * 3


def test_a_code_held_in_view_is_one_showing_even_without_debounce(payloads):
    """camera.debounce = 0 on a camera: a phone held up for a second at 30 fps is one decision, not thirty (at a
    mall, with no anti-passback, thirty admissions would have held the turnstile open while the code was in view)."""
    src = SyntheticSource([payloads[0]], fps=None, show_frames=30, gap_frames=0, frames=30, seed=3)
    events, _ = run_to_end(_Retimed(src, 1 / 30), settings=CameraSettings(debounce=0))
    assert [e.payload for e in decisions(events)] == [payloads[0]]
    assert not [e for e in events if isinstance(e, RepeatEvent)]


class _Retimed:
    """Gives frames evenly spaced timestamps (as a 30 fps camera would) without waiting for them."""

    live = False

    def __init__(self, inner, step: float, gap_after: dict[int, float] | None = None):
        self.inner, self.step, self.name = inner, step, inner.name
        self.gap_after = gap_after or {}
        self._t = 1000.0

    def open(self):
        self.inner.open()

    def read(self):
        f = self.inner.read()
        if f is None:
            return None
        self._t += self.step + self.gap_after.get(f.index, 0.0)
        return Frame(f.image, self._t, f.index, f.origin)

    def close(self):
        self.inner.close()


def test_a_code_shown_again_after_the_debounce_is_decided_again(payloads):
    src = SyntheticSource([payloads[2]], fps=None, show_frames=3, gap_frames=3, frames=9, seed=1)
    # Frames 0-2 show the code, 3-5 do not, with 5 s passing; frames 6-8 show it again.
    events, _ = run_to_end(_Retimed(src, 1 / 30, {4: 5.0}), settings=CameraSettings(debounce=4.0))
    assert [e.payload for e in decisions(events)] == [payloads[2], payloads[2]]


class GatedDecoder(FrameDecoder):
    """A decoder that holds its first frame until the test opens the gate: a slow decoder on cue."""

    def __init__(self):
        super().__init__()
        self.started = threading.Event()
        self.gate = threading.Event()
        self.seen: list[int] = []

    def decode(self, image, *, thorough=None):
        self.seen.append(int(image[0, 0]))
        if len(self.seen) == 1:
            self.started.set()
            assert self.gate.wait(TIMEOUT)
        return super().decode(image, thorough=thorough)


class BurstSource:
    """A live source: one frame, then (once the decoder is busy with it) all the others at once; then
    it opens the decoder's gate and ends."""

    live = True
    name = "burst"

    def __init__(self, frames: list[np.ndarray], decoder: GatedDecoder):
        self.frames, self.decoder, self.gate, self.i = frames, decoder, decoder.gate, 0

    def open(self):
        pass

    def read(self):
        if self.i == 1:
            assert self.decoder.started.wait(TIMEOUT)
        if self.i == len(self.frames):
            self.gate.set()
            return None
        self.i += 1
        return Frame(self.frames[self.i - 1], float(self.i), self.i, self.name)

    def close(self):
        pass


def test_latest_frame_wins_under_a_slow_decoder(payloads):
    frames = []
    for i in range(10):
        img = card([payloads[i % 5]])
        img[0, 0] = i  # tag each frame
        frames.append(img)
    dec = GatedDecoder()
    events, p = run_to_end(BurstSource(frames, dec), decoder=dec, settings=CameraSettings(debounce=0))
    # The worker held frame 0 while 1..9 arrived: only the newest of those is decoded, no queue grows.
    assert dec.seen == [0, 9]
    assert [e.payload for e in decisions(events)] == [payloads[0], payloads[4]]
    assert p.frames_dropped == 8 and p.frames_received == 10


def test_camera_disconnect_and_reconnect_are_reported(payloads):
    cam = FakeCamera(cv2.cvtColor(card([payloads[0]]), cv2.COLOR_GRAY2BGR))
    events: queue.Queue = queue.Queue()
    src = OpenCVSource(0, capture_factory=cam.factory)
    p = Pipeline(src, echo, events.put, retry=(0.01, 0.05), settings=CameraSettings(debounce=3600))
    assert not p.alive() and p.last_frame_monotonic is None
    p.start()
    try:
        first = events.get(timeout=TIMEOUT)
        assert isinstance(first, DecisionEvent) and first.payload == payloads[0]
        assert p.alive() and p.last_frame_monotonic is not None
        cam.plugged.clear()
        down = events.get(timeout=TIMEOUT)
        assert isinstance(down, SourceEvent) and down.kind == "disconnected" and down.source == "camera:0"
        assert "stopped delivering" in down.message
        assert p.alive()  # the pipeline lives on while the camera is away
        opens = len(cam.opens)
        cam.image = cv2.cvtColor(card([payloads[1]]), cv2.COLOR_GRAY2BGR)
        cam.plugged.set()
        up = events.get(timeout=TIMEOUT)
        assert isinstance(up, SourceEvent) and up.kind == "reconnected"
        assert len(cam.opens) > opens
        nxt = events.get(timeout=TIMEOUT)
        assert isinstance(nxt, DecisionEvent) and nxt.payload == payloads[1]
    finally:
        p.stop()
    assert not p.alive()


def test_a_camera_missing_at_start_is_reported_once_then_found(payloads):
    cam = FakeCamera(cv2.cvtColor(card([payloads[2]]), cv2.COLOR_GRAY2BGR))
    cam.plugged.clear()
    events: queue.Queue = queue.Queue()
    p = Pipeline(OpenCVSource(1, capture_factory=cam.factory), echo, events.put, retry=(0.01, 0.02))
    p.start()
    try:
        down = events.get(timeout=TIMEOUT)
        assert isinstance(down, SourceEvent) and down.kind == "disconnected"
        assert "could not be opened" in down.message
        cam.plugged.set()
        assert events.get(timeout=TIMEOUT).kind == "reconnected"
        ev = events.get(timeout=TIMEOUT)
        assert isinstance(ev, DecisionEvent) and ev.payload == payloads[2]
    finally:
        p.stop()


class FlakyDecoder(FrameDecoder):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def decode(self, image, *, thorough=None):
        self.calls += 1
        if self.calls == 2:
            raise ValueError("simulated decoder fault")
        return super().decode(image, thorough=thorough)


def test_decoder_and_checker_exceptions_are_reported_and_survived(tmp_path, payloads):
    for i, pl in enumerate(payloads[:4]):
        cv2.imwrite(str(tmp_path / f"{i}.png"), card([pl]))

    def check(payload, now):
        if payload == payloads[2]:
            raise RuntimeError("simulated checker fault")
        return "ok"

    events, p = run_to_end(FileSource(tmp_path), check=check, decoder=FlakyDecoder(),
                           settings=CameraSettings(debounce=0))
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert [(e.stage, e.message) for e in errors] == [
        ("decode", "ValueError: simulated decoder fault"), ("check", "RuntimeError: simulated checker fault")]
    assert [e.payload for e in decisions(events)] == [payloads[0], payloads[3]]
    assert p.items_processed == 4


def test_listener_exceptions_do_not_stop_the_pipeline(tmp_path, payloads):
    for i, pl in enumerate(payloads[:3]):
        cv2.imwrite(str(tmp_path / f"{i}.png"), card([pl]))
    seen = []

    def listener(ev):
        seen.append(ev)
        raise RuntimeError("the UI fell over")

    p = Pipeline(FileSource(tmp_path), echo, listener)
    p.start()
    assert p.wait(TIMEOUT)
    p.stop()
    assert len(decisions(seen)) == 3


def test_scanned_text_bypasses_decoding_and_is_never_dropped(payloads):
    import io

    lines = "\n".join([payloads[0], payloads[1], payloads[1], payloads[0], "HCC1:NOT A CODE"]) + "\n"
    events, _ = run_to_end(LineSource(io.BytesIO(lines.encode()), "stdin"), settings=CameraSettings(debounce=60))
    got = decisions(events)
    assert [e.payload for e in got] == [payloads[0], payloads[1], "HCC1:NOT A CODE"]
    assert all(e.decode_ms == 0 and e.codes_in_frame == 1 and e.source == "stdin" for e in got)


def test_start_stop_of_an_endless_live_source(payloads):
    events: queue.Queue = queue.Queue()
    p = Pipeline(SyntheticSource([payloads[0]], fps=60, seed=2), echo, events.put)
    p.start()
    try:
        assert isinstance(events.get(timeout=TIMEOUT), DecisionEvent)
        assert p.alive()
    finally:
        p.stop(timeout=TIMEOUT)
    assert not p.alive() and p.wait(0)
    with pytest.raises(RuntimeError):
        p.start()


def test_camera_and_hardware_scanner_together(payloads):
    """A kiosk with a camera and a wedge scanner: both feed one pipeline, both are decided."""
    from scanner.sources.scanners import WedgeSource

    events: queue.Queue = queue.Queue()
    wedge = WedgeSource(0.05)
    cam = SyntheticSource([payloads[0]], fps=60, seed=4)
    p = Pipeline([cam, wedge], echo, events.put)
    p.start()
    try:
        first = events.get(timeout=TIMEOUT)
        assert isinstance(first, DecisionEvent) and first.payload == payloads[0] and first.decode_ms > 0
        for ch in payloads[1] + "\r":
            wedge.feed(ch)
        second = events.get(timeout=TIMEOUT)
        assert isinstance(second, DecisionEvent) and second.payload == payloads[1]
        assert second.source == "wedge" and second.decode_ms == 0
    finally:
        p.stop()


def test_alive_turns_false_when_the_worker_is_stuck(payloads):
    dec = GatedDecoder()
    frames = [card([payloads[0]]), card([payloads[1]])]
    p = Pipeline(BurstSource(frames, dec), echo, lambda e: None, decoder=dec, stall_after=0.0)
    p.start()
    try:
        assert dec.started.wait(TIMEOUT)
        # Busy on one frame for longer than `stall_after` (0 s): the watchdog would restart us.
        assert not p.alive()
        assert p.last_frame_monotonic is not None
    finally:
        dec.gate.set()
        p.stop()


def _hard_still(payload: str) -> np.ndarray:
    frame = np.full((480, 640), 128, np.uint8)
    code = render_qr(payload, module_px=1)
    frame[50:50 + code.shape[0], 60:60 + code.shape[1]] = code
    return cv2.GaussianBlur(frame, (0, 0), 0.6)


def test_still_photos_get_every_decoding_pass(tmp_path, payloads):
    # One-pixel modules, slightly blurred: the fast pass cannot read it, a fallback can. In a folder
    # of photos each image is alone, so the camera's every-Nth-frame budget does not apply. Whether a
    # fallback reads such a code depends on its bits (a few signed payloads in a hundred defeat every
    # pass), so the photo is made from the first fresh payload that only a fallback reads.
    hard = next(p for p in payloads if not FrameDecoder().decode(_hard_still(p), thorough=False)
                and FrameDecoder().decode(_hard_still(p), thorough=True))
    frame = _hard_still(hard)
    cv2.imwrite(str(tmp_path / "hard.png"), frame)
    src = FileSource(tmp_path)
    events, _ = run_to_end(src)
    assert [e.payload for e in decisions(events)] == [hard]
    paced = FileSource(tmp_path / "hard.png", fps=100, loop=True)
    paced.open()
    frame_read = paced.read()
    paced.close()
    assert frame_read is not None and not frame_read.still  # a paced replay is treated like a camera


def test_frames_are_awaited_only_from_a_camera_that_is_up(payloads):
    """The watchdog's view (`frame_watch`): a camera that is down is retried here, not a reason to restart."""
    from scanner.sources.scanners import WedgeSource

    cam = FakeCamera(cv2.cvtColor(card([payloads[3]]), cv2.COLOR_GRAY2BGR))
    cam.plugged.clear()
    events: queue.Queue = queue.Queue()
    p = Pipeline([OpenCVSource(2, capture_factory=cam.factory), WedgeSource(0.05)], echo, events.put,
                 retry=(0.01, 0.02))
    assert p.frame_watch() is None  # a camera that has not spoken yet: the watchdog's start-up grace applies
    p.start()
    try:
        down = events.get(timeout=TIMEOUT)
        assert isinstance(down, SourceEvent) and down.kind == "disconnected"
        watch = p.frame_watch()
        assert watch is not None and watch > down.at  # while the only camera is down: always current
        cam.plugged.set()
        up = events.get(timeout=TIMEOUT)
        assert up.kind == "reconnected"
        # Back: frames are awaited again, counted from its return, then from each frame.
        watch = p.frame_watch()
        assert watch is not None and watch >= up.at
        seen = events.get(timeout=TIMEOUT)
        assert isinstance(seen, DecisionEvent)
        watch = p.frame_watch()
        assert watch is not None and watch >= seen.frame_timestamp
    finally:
        p.stop()


def test_a_scanner_only_pipeline_never_awaits_frames():
    from scanner.sources.scanners import WedgeSource

    p = Pipeline([WedgeSource(0.05)], echo, lambda e: None)
    before = p.frame_watch()
    assert before is not None
    after = p.frame_watch()
    assert after is not None and after >= before and p.last_frame_monotonic is None


def test_a_camera_whose_reader_failed_stays_awaited_so_the_watchdog_restarts(payloads):
    """A camera reader that ended on a fault nothing here retries (a driver raising, not a camera gone):
    its frames stay awaited, so the watchdog's restart is what brings the camera back."""
    from scanner.sources.scanners import WedgeSource

    cam = FakeCamera(cv2.cvtColor(card([payloads[3]]), cv2.COLOR_GRAY2BGR))

    def faulty_driver(device):
        capture = cam.factory(device)

        def read():
            raise RuntimeError("driver fault")

        capture.read = read
        return capture

    events: queue.Queue = queue.Queue()
    p = Pipeline([OpenCVSource(2, capture_factory=faulty_driver), WedgeSource(0.05)], echo, events.put,
                 retry=(0.01, 0.02))
    p.start()
    try:
        ended = events.get(timeout=TIMEOUT)
        while not isinstance(ended, SourceEvent):
            ended = events.get(timeout=TIMEOUT)
        assert ended.kind == "ended"
        assert p.frame_watch() is None  # never a frame: after the start-up grace the pings stop
    finally:
        p.stop()
