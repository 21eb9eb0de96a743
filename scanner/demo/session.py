"""A gate `Session` on a generated world (`scanner.demo.world`): for the demo, screenshots, tests, benches."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.session import Session, Shown

if TYPE_CHECKING:
    from scanner.clock import Clock
    from scanner.demo.world import DemoWorld
    from scanner.gate.control import Gate


def demo_core(directory: Path, *, profile: str = "transport", now: float | None = None, clock: Clock | None = None,
              world: DemoWorld | None = None, log_visits: bool = True, checkpoint_name: str = "Demo gate",
              anti_passback: bool = False, gate: Gate | None = None) -> tuple[Session, DemoWorld]:
    """A `Session` with the world's trust list and status lists loaded and a visit log in `directory`.

    The demo shows its few sample codes over and over, so the profile's anti-passback is off unless asked for.
    """
    from scanner.checker import Checker
    from scanner.clock import SystemClock
    from scanner.config import settings_from_dict
    from scanner.demo.world import build_demo_world
    from scanner.policy import load_profile
    from scanner.storage.stores import open_stores

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    at = int(now if now is not None else time.time())
    world = world or build_demo_world(directory / "world", at)
    settings = settings_from_dict({
        "device": {"data_dir": str(directory / "data")},
        "trust": {"anchors": [str(world.anchor_path)], "trust_list": str(world.trust_list_path),
                  "status_lists": [str(p) for p in world.status_list_paths],
                  "rules_list": str(world.rules_list_path or "")},
    }, source="<demo>")
    stores = open_stores(settings, visit_log=log_visits)
    assert stores.trust is not None and stores.status is not None
    anchors, visit_log = stores.anchors, stores.visit_log
    clock = clock or SystemClock()
    overrides = {} if anti_passback else {profile: {"profile": {"anti_passback": 0}}}
    checker = Checker(stores.trust, stores.status, load_profile(profile, overrides), clock=clock, rules=stores.rules)
    core = Session(checker, visit_log, clock=clock, data_dir=directory / "data", device_id="demo-kiosk",
                   checkpoint_id="gate-1", checkpoint_name=checkpoint_name, anchors=anchors,
                   profile_overrides=overrides, gate=gate)
    return core, world


def decide_now(core: Session, payload: str, source: str = "test") -> Shown:
    """Check a payload as the pipeline would and hand back what the screen gets (GUI-thread helper)."""
    from scanner.events import DecisionEvent

    t0 = time.monotonic()
    d = core.checker.check(payload)
    t1 = time.monotonic()
    return core.handle(DecisionEvent(d, payload, payload.encode(), source, t0, t1, 0.0, (t1 - t0) * 1000, 1))
