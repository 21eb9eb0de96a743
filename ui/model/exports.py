"""Where a visit-log export goes: a mounted USB stick when one is present, else the data directory. No Qt.

A stick is a writable mount of a removable-looking block device (`/dev/sd*`, `/dev/mmcblk1*`) under one
of `USB_ROOTS`, as the desktop or udisks mounts it (`/media/USER/LABEL`, `/run/media/USER/LABEL`) or an
operator does (`/mnt/usb`). The Pi's own SD card (`/dev/mmcblk0`) is never taken for a stick.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MOUNTS_FILE = Path("/proc/mounts")
USB_ROOTS = ("/media/", "/run/media/", "/mnt/")
EXPORT_FOLDER = "checkpoint-exports"
REMOVABLE_DEVICE = re.compile(r"^/dev/(sd[a-z]+\d*|mmcblk[1-9]\d*(p\d+)?)$")


def _unescape(field: str) -> str:
    """/proc/mounts writes a space in a mount point as \\040 (and tab, newline, backslash likewise)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def usb_mounts(mounts: str, roots: tuple[str, ...] = USB_ROOTS) -> list[Path]:
    """Mount points of removable devices under `roots`, read-write, in the order the system lists them."""
    out = []
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        device, point, options = parts[0], _unescape(parts[1]), parts[3].split(",")
        if REMOVABLE_DEVICE.match(device) and "rw" in options and any(
                (point + "/").startswith(r) for r in roots):
            out.append(Path(point))
    return out


def usb_stick(mounts_file: Path = MOUNTS_FILE, roots: tuple[str, ...] = USB_ROOTS) -> Path | None:
    """The first mounted stick this process may write to, or None."""
    try:
        text = mounts_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return next((p for p in usb_mounts(text, roots) if os.access(p, os.W_OK)), None)
