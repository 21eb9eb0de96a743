"""The scanning pipeline: sources in, decisions out, on threads of its own and without Qt.

One reader thread per source pulls frames (or scanned text) and hands them over; one worker thread
decodes the newest frame, runs `check(payload, now)` (in production `Checker.check`) on each code and
delivers events to the listener. The kiosk wraps the listener in a Qt signal.

- Latest frame wins: a live camera's frame replaces the one still waiting, so a slow decode never builds
  a queue and the decision is always about what the camera sees now. Finite sources (a folder of
  images) wait for the worker instead, so none is skipped, and still photos get every decoding pass.
  Scanned text is queued, never dropped.
- The same code held in view is debounced: it is decided once, then not decided again until it has been
  out of sight for `debounce` seconds. A live camera's code seen again within `REAPPEAR_S` is still the same
  showing, even with no debounce at all (`debounce = 0`). A different code is never debounced. A debounced
  code that is shown again on purpose (scanned again, or back in view after `REAPPEAR_S` out of sight) gives
  a `RepeatEvent`, so the gate answers with a short beep instead of silence.
- A camera that fails is reported (`SourceEvent` "disconnected"), closed and reopened with backoff
  until it is back ("reconnected"). A decoder or checker exception is logged and reported as an
  `ErrorEvent`; the worker carries on.
- All events reach the listener from the worker thread, in order; `scanner.events` declares them.

For the watchdog: `frame_watch()` (when a frame last arrived, as long as a camera is meant to deliver) and
`alive()`. A disconnected camera is this pipeline's to report and retry, and a restart would not plug it
back in, so while every camera is disconnected (or there is none: a scanner-only device) frames are not
awaited. A camera whose reader ended (a driver fault) is retried by nothing here: its frames stay awaited.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from scanner.config import CameraSettings
from scanner.errors import CheckpointError, SourceError
from scanner.events import DecisionEvent, ErrorEvent, PipelineEvent, RepeatEvent, SourceEvent
from scanner.qr.decoder import FrameDecoder, QrSymbol
from scanner.sources.base import Frame, ScannedText, Source, gives_frames

if TYPE_CHECKING:
    from scanner.policy import Decision

log = logging.getLogger(__name__)


# A code out of the camera's sight this long and back is shown again on purpose.
REAPPEAR_S = 0.5


def payload_text(data: bytes) -> str:
    """The text handed to the checker: the code's UTF-8 text, non-UTF-8 bytes made visible as \\xNN."""
    return data.decode("utf-8", errors="backslashreplace")


class Pipeline:
    """Runs sources → decode → check → listener until stopped or every source has ended."""

    def __init__(self, sources: Source | list[Source] | tuple[Source, ...], check: Callable[[str, float], Decision],
                 listener: Callable[[PipelineEvent], None], *, settings: CameraSettings | None = None,
                 decoder: FrameDecoder | None = None, now: Callable[[], float] = time.time,
                 retry: tuple[float, float] = (0.5, 5.0), stall_after: float = 10.0):
        self.sources: list[Source] = list(sources) if isinstance(sources, list | tuple) else [sources]
        self.settings = settings or CameraSettings()
        self._check = check
        self._listener = listener
        self._decoder = decoder or FrameDecoder(self.settings.decoders,
                                                slow_pass_every=self.settings.slow_pass_every)
        self._now = now
        self._retry = retry
        self._stall_after = stall_after
        self._cv = threading.Condition()
        self._latest: Frame | None = None
        self._texts: deque[ScannedText] = deque()
        self._events: deque[PipelineEvent] = deque()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._readers: list[threading.Thread] = []
        self._worker: threading.Thread | None = None
        self._running_readers = 0
        self._seen: dict[bytes, float] = {}
        self._busy_since: float | None = None
        self.last_frame_monotonic: float | None = None
        # Cameras (every source but the hardware scanners), those disconnected and being retried, and when
        # one last came back.
        self._cameras = {s.name for s in self.sources if gives_frames(s)}
        self._cameras_down: set[str] = set()
        self._camera_back: float | None = None
        self.frames_received = 0
        self.frames_dropped = 0
        self.items_processed = 0
        self.decisions = 0
        # Scanned texts handed over, and those decided with their events delivered (`wait_decided`).
        self._texts_in = 0
        self._texts_done = 0

    # --- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._worker is not None:
            raise RuntimeError("a pipeline starts once")
        self._running_readers = len(self.sources)
        for src in self.sources:
            t = threading.Thread(target=self._read_loop, args=(src,), name=f"reader-{src.name}", daemon=True)
            self._readers.append(t)
        self._worker = threading.Thread(target=self._work_loop, name="pipeline-worker", daemon=True)
        self._worker.start()
        for t in self._readers:
            t.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading and deciding; returns once the threads have ended (or `timeout`)."""
        self._stop.set()
        for src in self.sources:
            try:
                src.close()  # wakes a reader blocked in read()
            except Exception as e:
                log.warning("closing %s failed: %s", src.name, e)
        with self._cv:
            self._cv.notify_all()
        deadline = time.monotonic() + timeout
        if self._worker is not None:
            self._worker.join(max(0.0, deadline - time.monotonic()))
        for t in self._readers:
            # A reader blocked on stdin cannot be woken; it is a daemon, so do not wait long for it.
            t.join(min(1.0, max(0.0, deadline - time.monotonic())))

    def wait_decided(self, timeout: float | None = None) -> bool:
        """Block until every scanned text handed over so far is decided and its events delivered (False on
        timeout or stop). For a guard's key read from a scanner line: it answers the scan before it."""
        with self._cv:
            target = self._texts_in
            return self._cv.wait_for(lambda: self._texts_done >= target or self._stop.is_set(), timeout) \
                and self._texts_done >= target

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every source has ended and all its items are decided (or stop); True if so."""
        return self._finished.wait(timeout)

    def alive(self) -> bool:
        """The worker runs and is not stuck in one item for longer than `stall_after` seconds."""
        if self._worker is None or not self._worker.is_alive() or self._stop.is_set():
            return False
        busy = self._busy_since
        return busy is None or time.monotonic() - busy < self._stall_after

    def frame_watch(self) -> float | None:
        """For the watchdog's frame check: the newest frame (or camera coming back), None before the first.

        While no camera is meant to deliver (none configured, or each one down and being retried) it is
        now: a missing camera is reported on screen and retried here, not cured by restarting the device.
        """
        with self._cv:
            if self._cameras <= self._cameras_down:
                return time.monotonic()
            times = [t for t in (self.last_frame_monotonic, self._camera_back) if t is not None]
        return max(times) if times else None

    def __enter__(self) -> Pipeline:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- readers ------------------------------------------------------------------------------
    def _post(self, event: PipelineEvent) -> None:
        with self._cv:
            if isinstance(event, SourceEvent) and event.source in self._cameras:
                # Only a disconnected camera is retried here. One whose reader ended (a fault, its input
                # used up) is not: its frames stay awaited, and the watchdog's restart starts it again.
                if event.kind == "disconnected":
                    self._cameras_down.add(event.source)
                else:
                    self._cameras_down.discard(event.source)
                if event.kind == "reconnected":
                    self._camera_back = event.at
            self._events.append(event)
            self._cv.notify_all()

    def _read_loop(self, src: Source) -> None:
        delay = self._retry[0]
        opened = False
        down = False
        try:
            while not self._stop.is_set():
                try:
                    if not opened:
                        src.open()
                        opened = True
                        if down:
                            down = False
                            delay = self._retry[0]
                            self._post(SourceEvent("reconnected", src.name, f"{src.name} is back",
                                                   time.monotonic()))
                    item = src.read()
                except SourceError as e:
                    if self._stop.is_set():
                        break
                    opened = False
                    self._safe_close(src)
                    if not down:
                        down = True
                        log.warning("%s", e)
                        self._post(SourceEvent("disconnected", src.name, str(e), time.monotonic()))
                    self._stop.wait(delay)
                    delay = min(delay * 2, self._retry[1])
                    continue
                except CheckpointError as e:  # bad input (missing file): nothing to retry
                    self._post(SourceEvent("ended", src.name, str(e), time.monotonic(), bad_input=True))
                    break
                except Exception as e:
                    if self._stop.is_set():
                        break
                    log.exception("%s failed", src.name)
                    self._post(ErrorEvent("source", f"{src.name}: {type(e).__name__}: {e}", time.monotonic()))
                    self._post(SourceEvent("ended", src.name, f"{src.name} failed", time.monotonic()))
                    break
                if item is None:
                    if not self._stop.is_set():
                        self._post(SourceEvent("ended", src.name, f"{src.name} has no more input",
                                               time.monotonic()))
                    break
                self._deliver(src, item)
        finally:
            if opened:
                self._safe_close(src)
            with self._cv:
                self._running_readers -= 1
                self._cv.notify_all()

    @staticmethod
    def _safe_close(src: Source) -> None:
        try:
            src.close()
        except Exception as e:
            log.warning("closing %s failed: %s", src.name, e)

    def _deliver(self, src: Source, item: Frame | ScannedText) -> None:
        with self._cv:
            if isinstance(item, ScannedText):
                self._texts.append(item)
                self._texts_in += 1
            else:
                self.last_frame_monotonic = time.monotonic()
                self.frames_received += 1
                if not src.live:
                    while self._latest is not None and not self._stop.is_set():
                        self._cv.wait()
                if self._latest is not None:
                    self.frames_dropped += 1
                self._latest = item
            self._cv.notify_all()

    # --- worker -------------------------------------------------------------------------------
    def _work_loop(self) -> None:
        try:
            while True:
                with self._cv:
                    while not (self._stop.is_set() or self._events or self._texts or self._latest
                               or self._running_readers == 0):
                        self._cv.wait()
                    if self._stop.is_set():
                        return
                    item: Frame | ScannedText | None = None
                    events: list[PipelineEvent] = []
                    if self._texts:
                        item = self._texts.popleft()
                    elif self._latest is not None:
                        item, self._latest = self._latest, None
                        self._cv.notify_all()  # a finite source waits for this slot
                    elif self._events:
                        # Only once what came before is decided: "ended" follows a source's last item.
                        events = list(self._events)
                        self._events.clear()
                    elif self._running_readers == 0:
                        return
                for ev in events:
                    self._emit(ev)
                if item is not None:
                    self._busy_since = time.monotonic()
                    try:
                        self._process(item)
                    finally:
                        self._busy_since = None
                        self.items_processed += 1
                        if isinstance(item, ScannedText):
                            with self._cv:
                                self._texts_done += 1
                                self._cv.notify_all()
        finally:
            self._finished.set()

    def _emit(self, event: PipelineEvent) -> None:
        try:
            self._listener(event)
        except Exception:
            log.exception("the pipeline listener failed on %s", type(event).__name__)

    def _process(self, item: Frame | ScannedText) -> None:
        if isinstance(item, ScannedText):
            data = item.text.encode("utf-8", errors="surrogateescape")
            self._expire(item.timestamp)
            event = self._decide(data, item.text, item.origin, item.timestamp, 0.0, 1, None, scanned=True)
            if event is not None:
                self._emit(event)
            return
        t0 = time.perf_counter()
        try:
            codes = self._decoder.decode(item.image, thorough=True if item.still else None)
        except Exception as e:
            log.exception("decoding frame %d failed", item.index)
            self._emit(ErrorEvent("decode", f"{type(e).__name__}: {e}", time.monotonic()))
            return
        decode_ms = (time.perf_counter() - t0) * 1000
        self._expire(item.timestamp)
        # Left to right, as the guard reads a row of phones.
        decided = [self._decide(code.data, payload_text(code.data), item.origin or "camera", item.timestamp,
                                decode_ms, len(codes), code, in_view=not item.still)
                   for code in sorted(codes, key=lambda c: c.center)]
        frame = [e for e in decided if e is not None]
        for i, event in enumerate(frame):
            self._emit(dataclasses.replace(event, member=i, members=len(frame)) if len(frame) > 1 else event)

    def _expire(self, now: float) -> None:
        keep = max(self.settings.debounce, REAPPEAR_S)
        for key in [k for k, seen in self._seen.items() if now - seen >= keep]:
            del self._seen[key]

    def _decide(self, data: bytes, payload: str, source: str, ts: float, decode_ms: float, n: int,
                code: QrSymbol | None, *, scanned: bool = False, in_view: bool = False) -> DecisionEvent | None:
        seen = self._seen.get(data)
        self._seen[data] = ts
        if seen is not None and in_view and ts - seen < REAPPEAR_S:
            return None  # still in a live camera's view: the same showing, whatever the debounce
        if seen is not None and ts - seen < self.settings.debounce:
            if scanned or ts - seen >= REAPPEAR_S:
                self._emit(RepeatEvent(payload, source, ts, ts - seen))
            return None
        t0 = time.perf_counter()
        try:
            decision = self._check(payload, self._now())
        except Exception as e:
            # Let the next sighting try again rather than debounce a code that was never decided.
            self._seen.pop(data, None)
            log.exception("checking a code failed")
            self._emit(ErrorEvent("check", f"{type(e).__name__}: {e}", time.monotonic()))
            return None
        done = time.monotonic()
        self.decisions += 1
        return DecisionEvent(decision, payload, data, source, ts, done, decode_ms,
                             (time.perf_counter() - t0) * 1000, n, code.polygon if code else None)
