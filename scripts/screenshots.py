#!/usr/bin/env python3
"""Regenerate `docs/screenshots/`: every kiosk screen (`ui.tour`) at 800×480, and at every size in `SIZES`.

Usage: .venv/bin/python scripts/screenshots.py [OUT_DIR] [--size WxH ...]
`OUT_DIR/*.png` are the 800×480 screens (the 7-inch panel, the one the docs show); `OUT_DIR/WxH/*.png`
the other sizes, from the 3.5-inch panel to a portrait terminal. The codes, keys and lists are generated on the spot
(`scanner.demo.world`), so names and ages are the demo's. Chinese needs a CJK font (fonts-wqy-microhei).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MAIN_SIZE = "800x480"
SIZES = ("480x320", MAIN_SIZE, "1280x800", "800x1280")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=str(REPO / "docs" / "screenshots"))
    ap.add_argument("--size", action="append", help=f"WxH (repeatable; default {', '.join(SIZES)})")
    args = ap.parse_args(argv)
    out = Path(args.out)

    from PySide6.QtGui import QFontDatabase
    from PySide6.QtWidgets import QApplication

    from ui.tour import tour

    app = QApplication.instance() or QApplication(["screenshots"])
    if not any("Hei" in f or "CJK" in f for f in QFontDatabase.families()):
        print("warning: no CJK font found; install fonts-wqy-microhei", file=sys.stderr)
    for size in args.size or SIZES:
        width, height = (int(v) for v in size.split("x"))
        folder = out if size == MAIN_SIZE else out / size
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="checkpoint-shots-") as tmp:
            for name, window in tour(width, height, Path(tmp)):
                path = folder / f"{name}.png"
                window.grab().save(str(path))
                print(path)
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
