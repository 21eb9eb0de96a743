"""appliance-health.json: written atomically at most every `every` seconds, frames/s between writes, a
write failure logged once and never raised."""

from __future__ import annotations

import json
from typing import Any

from scanner.service.appliancehealth import ApplianceHealthReporter


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def report(r: ApplianceHealthReporter, frames: int, **kw: Any) -> bool:
    args: dict[str, Any] = {"camera_ok": True, "last_decision_ts": None, "errors_since_start": 0,
                            "clock_trusted": True}
    return r.report(frames_received=frames, **{**args, **kw})


def test_writes_at_most_every_interval_with_frames_per_second(tmp_path):
    mono = Clock()
    r = ApplianceHealthReporter(tmp_path, every=10, clock=lambda: 1_700_000_000.0, monotonic=mono)
    assert report(r, 0)
    rec = json.loads((tmp_path / "appliance-health.json").read_text())
    assert rec["camera"] == {"state": "ok"} and rec["started_at"] == 1_700_000_000.0
    mono.t += 5
    assert not report(r, 75)
    mono.t += 5
    assert report(r, 150, camera_ok=False, camera_message="camera:0 unplugged", last_decision_ts=1.5,
                  errors_since_start=2, audio_problem="no aplay", gate_output="closed")
    rec = json.loads((tmp_path / "appliance-health.json").read_text())
    assert rec["camera"] == {"state": "disconnected", "fps": 15.0, "message": "camera:0 unplugged"}
    assert rec["last_decision_ts"] == 1.5 and rec["errors_since_start"] == 2
    assert rec["audio"] == {"state": "silent", "problem": "no aplay"} and rec["gate_output"] == {"state": "closed"}
    assert [p.name for p in tmp_path.iterdir()] == ["appliance-health.json"]


def test_a_missing_data_dir_is_logged_not_raised(tmp_path, caplog):
    r = ApplianceHealthReporter(tmp_path / "file" / "below", every=1)
    (tmp_path / "file").write_text("not a directory")
    assert not report(r, 0)
    assert any("cannot write" in m for m in caplog.messages)
