"""What the kiosk or the gate says about itself for the fleet: `appliance-health.json` in the data directory.

The sync agent reads this file each round and sends it with its own figures (backlog, lists, clock
offset) to the hub. The appliance calls `ApplianceHealthReporter.report(...)` from its once-a-second
timer with what it sees right now; the file is replaced atomically at most every `every` seconds, so a
reader never sees half a file and the SD card is not written every second. Frames per second come from
the pipeline's frame counter between two writes. No Qt here: the kiosk and the headless gate share it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keys.durable import atomic_write_json
from scanner.storage.datadir import DataDir

log = logging.getLogger(__name__)


def software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("checkpoint")
    except PackageNotFoundError:
        return "unknown"


class ApplianceHealthReporter:
    def __init__(self, data_dir: str | Path, *, every: float = 10.0, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self.path = DataDir(Path(data_dir)).appliance_health
        self.every = every
        self._clock, self._monotonic = clock, monotonic
        self.started_at = clock()
        self.version = software_version()
        self._last_write: float | None = None
        self._frames_at_write: tuple[float, int] | None = None
        self._failed = False

    def report(self, *, frames_received: int | None, camera_ok: bool | None, camera_message: str = "",
               last_decision_ts: float | None, errors_since_start: int, clock_trusted: bool | None,
               audio_problem: str | None = None, gate_output: str | None = None,
               status_store_problem: str | None = None) -> bool:
        """Write the record if `every` seconds passed since the last write; True when written."""
        now_m = self._monotonic()
        if self._last_write is not None and now_m - self._last_write < self.every:
            return False
        fps = None
        if frames_received is not None:
            if self._frames_at_write is not None and now_m > self._frames_at_write[0]:
                fps = round((frames_received - self._frames_at_write[1]) / (now_m - self._frames_at_write[0]), 1)
            self._frames_at_write = (now_m, frames_received)
        camera: dict[str, Any] = {"state": "none" if camera_ok is None else "ok" if camera_ok else "disconnected"}
        if fps is not None:
            camera["fps"] = fps
        if camera_message:
            camera["message"] = camera_message[:200]
        record = {"software_version": self.version, "started_at": self.started_at, "written_at": self._clock(),
                  "camera": camera, "last_decision_ts": last_decision_ts, "errors_since_start": errors_since_start,
                  "clock_trusted": clock_trusted,
                  "audio": {"state": "ok" if audio_problem is None else "silent", "problem": audio_problem},
                  "gate_output": {"state": gate_output or "none"},
                  # A damaged status store this process set aside (the agent sends the visit log's own notice).
                  "status_store_problem": status_store_problem[:200] if status_store_problem else None}
        self._last_write = now_m
        try:
            atomic_write_json(self.path, record)
        except OSError as e:
            # A full or read-only card must not stop the appliance; say so once, keep trying.
            if not self._failed:
                log.warning("cannot write %s: %s", self.path, e.strerror or e)
            self._failed = True
            return False
        self._failed = False
        return True
