"""The watchdog pings only while frames flow and the pipeline is alive, over a real notify socket."""

from __future__ import annotations

import threading

import pytest

from scanner.service import sdnotify
from scanner.service.watchdog import Watchdog
from tests.helpers.notifysock import drain


class Monotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class FakeCamera:
    """Delivers frames while running, like a source feeding the pipeline; `freeze()` stops it."""

    def __init__(self, clock: Monotonic):
        self.clock = clock
        self.running = True
        self.last_frame_monotonic: float | None = None

    def step(self) -> None:
        if self.running:
            self.last_frame_monotonic = self.clock.t

    def freeze(self) -> None:
        self.running = False


def test_pings_stop_when_the_fake_camera_stops(notify_socket) -> None:
    sock, env = notify_socket
    clock = Monotonic()
    camera = FakeCamera(clock)
    dog = Watchdog(lambda: sdnotify.watchdog(env=env), timeout=20, frame_timeout=5,
                   last_frame=lambda: camera.last_frame_monotonic, monotonic=clock)
    assert sdnotify.ready(env=env)
    received = drain(sock)
    for _ in range(60):  # a minute of frames, ticked every second
        camera.step()
        dog.tick()
        received += drain(sock)
        clock.t += 1
    assert received[0] == b"READY=1"
    pings = received[1:]
    assert set(pings) == {b"WATCHDOG=1"}
    assert len(pings) == dog.pings >= 60 / 5  # at least every timeout/4 seconds
    assert dog.problem is None

    camera.freeze()
    after: list[bytes] = []
    for _ in range(60):
        camera.step()
        dog.tick()
        after += drain(sock)
        clock.t += 1
    # Pings continue only while the last frame is younger than frame_timeout.
    assert len(after) <= 2
    assert dog.problem is not None and "no frame" in dog.problem

    camera.running = True
    camera.step()
    assert dog.tick()
    assert drain(sock) == [b"WATCHDOG=1"]
    assert dog.problem is None


def test_a_dead_pipeline_withholds_pings_even_with_frames() -> None:
    clock = Monotonic()
    pings: list[float] = []
    alive = threading.Event()
    alive.set()
    dog = Watchdog(lambda: pings.append(clock.t) or True, timeout=8, frame_timeout=5, monotonic=clock)
    dog.add_check("pipeline", alive.is_set)
    dog.frame()
    assert dog.tick()
    alive.clear()  # the decoder thread died
    clock.t += 3
    dog.frame()
    assert not dog.tick()
    assert dog.problem == "pipeline not alive"
    alive.set()
    assert dog.tick()
    assert len(pings) == 2


def test_a_check_that_raises_counts_as_dead() -> None:
    clock = Monotonic()

    def broken() -> bool:
        raise RuntimeError("decoder gone")

    dog = Watchdog(lambda: True, timeout=8, monotonic=clock)
    dog.add_check("decoder", broken)
    dog.frame()
    assert not dog.tick()
    assert dog.problem is not None and "decoder gone" in dog.problem


def test_startup_grace_before_the_first_frame() -> None:
    clock = Monotonic()
    dog = Watchdog(lambda: True, timeout=10, frame_timeout=2, startup_grace=15, monotonic=clock)
    assert dog.tick()  # the camera is still starting
    clock.t += 16
    assert not dog.tick()
    assert dog.problem is not None and "no frame since start" in dog.problem
    dog.frame()
    assert dog.tick()


def test_pings_are_rate_limited_to_a_quarter_of_the_timeout() -> None:
    clock = Monotonic()
    sent: list[float] = []
    dog = Watchdog(lambda: sent.append(clock.t) or True, timeout=20, monotonic=clock)
    for i in range(200):
        clock.t = 100.0 + i / 10
        dog.frame()
        dog.tick()
    assert sent == pytest.approx([100.0, 105.0, 110.0, 115.0])


def test_frames_fed_directly_and_old_timestamps_ignored() -> None:
    clock = Monotonic()
    dog = Watchdog(lambda: True, timeout=20, frame_timeout=5, monotonic=clock)
    dog.frame(at=99.0)
    dog.frame(at=90.0)  # an out-of-order timestamp never moves the newest frame back
    clock.t = 103.0
    assert dog.check() is None
    clock.t = 104.5
    assert dog.check() == "no frame for 5.5s"


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert Watchdog.from_env() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    dog = Watchdog.from_env(frame_timeout=3.0)
    assert dog is not None and dog.timeout == 30.0 and dog.frame_timeout == 3.0


def test_invalid_timeouts_are_refused() -> None:
    with pytest.raises(ValueError):
        Watchdog(lambda: True, timeout=0)
