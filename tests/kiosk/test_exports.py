"""Finding a USB stick in /proc/mounts (no Qt)."""

from __future__ import annotations

from pathlib import Path

from ui.model.exports import usb_mounts, usb_stick

MOUNTS = """\
/dev/mmcblk0p2 / ext4 rw,noatime 0 0
/dev/mmcblk0p1 /boot/firmware vfat rw,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev 0 0
/dev/sda1 /media/pi/GATE\\040LOGS vfat rw,nosuid,nodev,relatime,uid=1000 0 0
/dev/sdb1 /media/pi/READONLY exfat ro,nosuid,nodev 0 0
/dev/mmcblk1p1 /run/media/guard/CARD exfat rw 0 0
/dev/sdc1 /srv/data ext4 rw 0 0
"""


def test_sticks_are_removable_read_write_mounts_under_the_usual_roots() -> None:
    assert usb_mounts(MOUNTS) == [Path("/media/pi/GATE LOGS"), Path("/run/media/guard/CARD")]


def test_no_stick_when_none_is_writable_or_the_file_is_missing(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    assert usb_stick(mounts) is None  # those mount points do not exist here
    assert usb_stick(tmp_path / "absent") is None
