"""`keys.durable.atomic_write`: a file is replaced whole, and a path that is a symbolic link replaces the file
the link names, keeping the link."""

from __future__ import annotations

import os
from pathlib import Path

from keys.durable import atomic_write


def test_a_link_is_followed_and_kept(tmp_path: Path) -> None:
    """/etc/checkpoint/config.toml linked to a persistent partition (a read-only root): replacing the link
    with a file would put the change on the overlay, lost at the next boot, and leave the real file unchanged."""
    real = tmp_path / "persistent" / "config.toml"
    real.parent.mkdir()
    real.write_text("old\n")
    os.chmod(real, 0o640)
    link = tmp_path / "etc" / "config.toml"
    link.parent.mkdir()
    link.symlink_to(real)
    atomic_write(link, "new\n", keep_owner=True)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new\n" and os.stat(real).st_mode & 0o777 == 0o640
    assert sorted(os.listdir(link.parent)) == ["config.toml"] and sorted(os.listdir(real.parent)) == ["config.toml"]


def test_a_plain_file_is_replaced(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_text("1")
    atomic_write(f, b"2")
    assert f.read_text() == "2" and not f.is_symlink()
