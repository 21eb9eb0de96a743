#!/usr/bin/env python3
"""Regenerate `docs/screenshots/*.png`: every kiosk screen at 800×480 (the 7-inch panel), offscreen.

Usage: .venv/bin/python scripts/screenshots.py [OUT_DIR] [--size 800x480]
The codes, keys and lists are generated on the spot (`scanner.demo.world`), so the names and ages in
the pictures are the demo's. Chinese needs a CJK font (fonts-wqy-microhei or fonts-noto-cjk).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=str(REPO / "docs" / "screenshots"))
    ap.add_argument("--size", default="800x480")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import numpy as np
    from PySide6.QtGui import QFontDatabase
    from PySide6.QtWidgets import QApplication

    from scanner.clock import FixedClock
    from scanner.demo.session import decide_now, demo_core
    from scanner.demo.world import build_demo_world
    from scanner.pin import hash_pin
    from scanner.sources.synthetic import gate_frame
    from ui.app import to_qimage
    from ui.demo import family_codes
    from ui.model.pinauth import PinGate
    from ui.widgets.window import KioskWindow

    app = QApplication.instance() or QApplication(["screenshots"])
    if not any("Hei" in f or "CJK" in f for f in QFontDatabase.families()):
        print("warning: no CJK font found; install fonts-wqy-microhei", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix="checkpoint-shots-"))
    now = int(time.time())
    world = build_demo_world(tmp / "world", now)
    written: list[Path] = []

    def window(core: object, **kw: object) -> KioskWindow:
        w = KioskWindow(result_seconds=600, **kw)  # type: ignore[arg-type]
        w.resize(width, height)
        w.set_venue(core.profile.name, core.profile.title, "2号线 东门 · Line 2 East gate")  # type: ignore[attr-defined]
        w.set_status(core.snapshot())  # type: ignore[attr-defined]
        w.show()
        app.processEvents()
        return w

    def save(w: KioskWindow, name: str) -> None:
        app.processEvents()
        path = out / f"{name}.png"
        w.grab().save(str(path))
        written.append(path)

    from scanner.policy import builtin_names

    core, _ = demo_core(tmp / "transport", world=world, clock=FixedClock(now + 120))
    w = window(core, profiles=builtin_names(), recent=core.recent_decisions)
    frame, _ = gate_frame(np.random.default_rng(7), [world.payloads["green"]], 640, 480)
    w.set_preview(to_qimage(frame))
    save(w, "idle")
    for shot, sample in (("green", "green"), ("yellow", "yellow"), ("red", "red"), ("invalid", "forged"),
                         ("expired", "expired"), ("guardian", "guardian"), ("printed-card", "card"),
                         ("other-region", "other_region")):
        w.go_idle()
        w.alert_pending = False
        w.show_decision(decide_now(core, world.payloads[sample]))
        save(w, shot)
        w.acknowledge()
    w.go_idle()
    w.group_window = 600
    for p in [*family_codes(world)[:2], world.payloads["yellow"]]:
        w.show_decision(decide_now(core, p))
    save(w, "family")
    w.go_idle()
    for p in family_codes(world):
        w.show_decision(decide_now(core, p))
    save(w, "family-admitted")
    w.go_idle()
    w.set_status(core.snapshot())
    w.pin_gate = PinGate(hash_pin("1234", ln=10))
    w.open_pin()
    save(w, "pin")
    w.pin.entry.setText("1234")
    w.pin.keys["OK"].click()
    save(w, "admin")
    w.close()

    # Two days without a sync: both lists are out of date, and the clock has lost its reference.
    stale, _ = demo_core(tmp / "stale", world=world, clock=FixedClock(now + 2 * 86400, trusted=False))
    w = window(stale)
    w.set_preview(to_qimage(frame))
    save(w, "stale-data")
    w.close()

    pharmacy, _ = demo_core(tmp / "pharmacy", profile="pharmacy", world=world, clock=FixedClock(now + 60))
    w = window(pharmacy)
    w.show_decision(decide_now(pharmacy, world.payloads["national"]))
    w.result.pharmacy.buttons["antipyretic"].setChecked(True)
    save(w, "pharmacy")
    w.go_idle()
    w.close()

    school, _ = demo_core(tmp / "school", profile="school", world=world, clock=FixedClock(now + 60))
    for name in ("green", "card", "national"):
        decide_now(school, world.payloads[name])
    w = window(school)
    w.set_preview(to_qimage(frame))
    save(w, "school-idle")
    w.show_decision(decide_now(school, world.payloads["guardian"]))
    save(w, "school-guardian")
    w.close()
    for c in (core, stale, pharmacy, school):
        if c.visit_log is not None:
            c.visit_log.close()
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
