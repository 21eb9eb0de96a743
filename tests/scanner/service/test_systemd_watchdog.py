"""The kiosk's watchdog wiring end to end: a real pipeline, a camera that freezes, a real notify socket.

What systemd would see: READY=1, then WATCHDOG=1 while frames flow; the pings stop when the camera
hangs in read() (as a wedged V4L2 driver does) and when the pipeline dies, so `WatchdogSec=` restarts
the kiosk. Ticks come from this test's thread, standing in for the kiosk's UI timer.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import numpy as np

from scanner.config import CameraSettings
from scanner.pipeline import Pipeline
from scanner.service import sdnotify
from scanner.service.watchdog import Watchdog
from scanner.sources.base import Frame
from tests.helpers.notifysock import drain

DEADLINE = 60.0


class FreezingCamera:
    """A live source of blank frames whose read() hangs while frozen, until thawed or closed."""

    name = "freezing-camera"
    live = True

    def __init__(self) -> None:
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = threading.Event()
        self.index = 0

    def open(self) -> None:
        self.closed.clear()

    def read(self) -> Frame | None:
        while not self.flowing.is_set():
            if self.closed.is_set():
                return None
            self.flowing.wait(0.05)
        self.closed.wait(0.02)  # about 50 frames per second
        if self.closed.is_set():
            return None
        self.index += 1
        return Frame(np.zeros((120, 160), dtype=np.uint8), time.monotonic(), self.index)

    def close(self) -> None:
        self.closed.set()


def tick_until(dog: Watchdog, sock: socket.socket, done: Callable[[list[bytes]], bool]) -> list[bytes]:
    """Tick like the kiosk's timer until `done(received)` holds; fail after a generous deadline."""
    received: list[bytes] = []
    pause = threading.Event()
    end = time.monotonic() + DEADLINE
    while not done(received):
        assert time.monotonic() < end, f"condition not reached; watchdog: {dog.problem}"
        dog.tick()
        received += drain(sock)
        pause.wait(0.02)
    return received


def test_pings_follow_the_camera_and_the_pipeline(notify_socket) -> None:
    sock, env = notify_socket
    camera = FreezingCamera()
    pipeline = Pipeline(camera, lambda payload, now: None, lambda event: None,
                        settings=CameraSettings(decoders=["zxing"]))
    dog = Watchdog(lambda: sdnotify.watchdog(env=env), timeout=0.4, frame_timeout=2.0,
                   startup_grace=DEADLINE, last_frame=lambda: pipeline.last_frame_monotonic)
    dog.add_check("pipeline", pipeline.alive)
    pipeline.start()
    try:
        assert sdnotify.ready(env=env)
        assert drain(sock) == [b"READY=1"]

        pings = tick_until(dog, sock, lambda r: len(r) >= 5)
        assert set(pings) == {b"WATCHDOG=1"}
        assert pipeline.frames_received > 0

        camera.flowing.clear()  # the camera hangs inside read()
        tick_until(dog, sock, lambda r: dog.problem is not None)
        assert dog.problem is not None and dog.problem.startswith("no frame for")
        drain(sock)
        silent = threading.Event()
        for _ in range(20):
            assert not dog.tick()
            silent.wait(0.02)
        assert drain(sock) == []
        assert pipeline.alive()  # the process looks fine; only the frames tell

        camera.flowing.set()
        assert tick_until(dog, sock, lambda r: len(r) >= 1)[0] == b"WATCHDOG=1"
        assert dog.problem is None
    finally:
        pipeline.stop()

    # A stopped (dead) pipeline withholds the pings even though its last frame is recent.
    assert not dog.tick()
    assert dog.problem == "pipeline not alive"
    assert drain(sock) == []
