"""Fakes for hardware that is not here: a USB camera that the test plugs and unplugs."""

from __future__ import annotations

import threading

import numpy as np


class FakeCapture:
    """Stands in for cv2.VideoCapture on a camera that the test plugs and unplugs."""

    def __init__(self, camera: FakeCamera):
        self.camera = camera
        self.opened = camera.plugged.is_set()
        self.props: dict[int, float] = {}

    def isOpened(self) -> bool:
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def read(self):
        # A real camera blocks for the next frame; pace a little so readers do not spin.
        self.camera.tick.wait(0.005)
        if not self.opened or not self.camera.plugged.is_set():
            return False, None
        return True, self.camera.image.copy()

    def release(self) -> None:
        self.opened = False


class FakeCamera:
    def __init__(self, image: np.ndarray):
        self.image = image
        self.plugged = threading.Event()
        self.plugged.set()
        self.tick = threading.Event()
        self.opens: list[int | str] = []
        self.captures: list[FakeCapture] = []

    def factory(self, device):
        self.opens.append(device)
        cap = FakeCapture(self)
        self.captures.append(cap)
        return cap
