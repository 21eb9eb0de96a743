"""`keys.durable.set_aside_database` when two processes (the kiosk and the sync agent starting together)
find the same file damaged: the file is set aside once, neither process fails, and the new file the first
one starts in its place is left alone."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from keys.durable import connect, file_identity, set_aside_database

NAMES = ("visits.sqlite", "visits.sqlite-wal", "visits.sqlite-shm")


def _damaged(directory: Path) -> Path:
    for name in NAMES:
        (directory / name).write_bytes(b"not a database: " + name.encode())
    return directory / NAMES[0]


def _new_log(path: Path) -> None:
    """What the process that set the file aside does next: start a new database in its place."""
    conn = connect(path)
    try:
        conn.execute("CREATE TABLE visits (seq INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO visits VALUES (1)")
    finally:
        conn.close()


def _holds_new_log(path: Path) -> bool:
    conn = connect(path, readonly=True)
    try:
        return conn.execute("SELECT seq FROM visits").fetchall() == [(1,)]
    finally:
        conn.close()


def test_a_file_set_aside_by_another_process_within_the_rename_is_no_crash(tmp_path: Path, monkeypatch) -> None:
    """The other process renames the file after this one looked for a free name and before its rename."""
    path = _damaged(tmp_path)
    exists = Path.exists
    fired = []

    def racing_exists(self: Path, *a, **kw) -> bool:
        if self.name == "visits.sqlite.bad-1" and not fired:
            fired.append(True)
            for name in NAMES:  # the other process's set-aside, all of it
                (tmp_path / name).rename(tmp_path / f"{name}.bad-1")
        return exists(self, *a, **kw)

    monkeypatch.setattr(Path, "exists", racing_exists)
    assert set_aside_database(path) == []
    monkeypatch.undo()
    assert fired and sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.bad-1" for n in NAMES)
    assert all((tmp_path / f"{n}.bad-1").read_bytes() == b"not a database: " + n.encode() for n in NAMES)


@pytest.mark.parametrize("started", [False, True])
def test_the_new_file_of_the_process_that_set_it_aside_first_is_left_alone(tmp_path: Path, started: bool) -> None:
    """This process judged the file damaged; meanwhile the other one set it aside (and, `started`, began a
    new log in its place, with its own WAL and shared-memory files)."""
    path = _damaged(tmp_path)
    judged = file_identity(path)
    for name in NAMES:
        (tmp_path / name).rename(tmp_path / f"{name}.bad-1")
    if started:
        _new_log(path)
    assert set_aside_database(path, judged=judged) == []
    assert not list(tmp_path.glob("*.bad-2"))
    assert all((tmp_path / f"{n}.bad-1").read_bytes() == b"not a database: " + n.encode() for n in NAMES)
    assert _holds_new_log(path) if started else not path.exists()


def test_two_processes_setting_the_same_file_aside_at_once(tmp_path: Path) -> None:
    """Both judged the file damaged and set it aside at the same moment: one does, the other finds it done,
    whichever comes first; the one that set it aside starts the new log, which stays in place."""
    path = _damaged(tmp_path)
    start = threading.Barrier(2)
    kept: list[list[str]] = []
    errors: list[BaseException] = []

    def process() -> None:
        try:
            judged = file_identity(path)
            start.wait(timeout=30)
            names = set_aside_database(path, judged=judged)
            if names:
                _new_log(path)
            kept.append(names)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=process) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(kept, key=len) == [[], [f"{n}.bad-1" for n in NAMES]]
    assert not list(tmp_path.glob("*.bad-2")) and _holds_new_log(path)


def test_a_set_aside_waits_for_the_other_process_to_finish_its_own(tmp_path: Path) -> None:
    """The other process is in the middle of setting the file aside (it holds the folder's lock): this one
    moves nothing until it is done, then finds the file set aside and the other's new log in place, which
    stays. Without the wait it could move the damaged file while the other was still moving its WAL."""
    path = _damaged(tmp_path)
    judged = file_identity(path)
    other = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(other, fcntl.LOCK_EX)
    kept: list[list[str]] = []
    waiting = threading.Thread(target=lambda: kept.append(set_aside_database(path, judged=judged)))
    try:
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive() and sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)
        for name in NAMES:  # the other process's set-aside and new log, then its lock goes
            (tmp_path / name).rename(tmp_path / f"{name}.bad-1")
        _new_log(path)
    finally:
        os.close(other)
    waiting.join(timeout=30)
    assert kept == [[]] and not list(tmp_path.glob("*.bad-2")) and _holds_new_log(path)
