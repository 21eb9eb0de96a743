"""Show first, then fsync: visits handed to the log's writer thread, and what a crash can cost.

A visit whose hand-over was acknowledged (`Handed.wait()` true, or the next hand-over returned) survives
SIGKILL; a crash between painting a decision and its fsync loses that one decision and no other. Readers
see every visit handed over before the read.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from scanner.errors import CheckpointError, StorageError
from scanner.storage.chain import new_visit_id
from scanner.storage.visitlog import VisitLog, VisitRecord
from tests.helpers import REPO as ROOT


def record(i: int) -> VisitRecord:
    now = time.time()
    return VisitRecord(visit_id=new_visit_id(now), ts_ms=int(now * 1000) + i, device_id="dev-1",
                       checkpoint_id="gate-1", profile="transport", clock_trusted=True, verdict="ok",
                       admit=True, tone="pass", code_id=f"{i:032x}")


# The child hands over visits one by one and says which ones were shown; with "stall" the writer thread
# never finishes the last one, so the SIGKILL lands exactly between its paint and its fsync.
CHILD = r"""
import sys, threading, time
from scanner.storage.visitlog import VisitLog, VisitRecord
from scanner.storage.chain import new_visit_id
log = VisitLog(sys.argv[1])
count, mode = int(sys.argv[2]), sys.argv[3]
write = log._handoff._write
def stalled(rec):
    if rec.code_id == f"{count - 1:032x}":
        threading.Event().wait()  # the fsync that never comes
    return write(rec)
if mode == "stall":
    log._handoff._write = stalled
last = None
for i in range(count):
    now = time.time()
    rec = VisitRecord(visit_id=new_visit_id(now), ts_ms=int(now * 1000) + i, device_id="dev-1",
                      checkpoint_id="gate-1", profile="transport", clock_trusted=True, verdict="ok",
                      admit=True, tone="pass", code_id=f"{i:032x}")
    last = log.hand_off(rec)
    print("shown", rec.visit_id, flush=True)
if mode == "ack":
    assert last.wait()
    print("durable", flush=True)
else:
    print("painted", flush=True)
threading.Event().wait()
"""


def run_child(db: Path, count: int, mode: str) -> list[str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(count), mode], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout is not None
    shown = []
    for line in child.stdout:
        word, *rest = line.split()
        if word == "shown":
            shown.append(rest[0])
        else:
            assert word == ("durable" if mode == "ack" else "painted")
            break
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    return shown


def test_an_acknowledged_visit_survives_a_crash(tmp_path):
    db = tmp_path / "visits.sqlite"
    shown = run_child(db, 12, "ack")
    with VisitLog(db) as log:
        assert [r["visit_id"] for r in log.rows()] == shown
        assert log.verify().ok and log.pending_count() == 12


def test_a_crash_between_paint_and_fsync_loses_that_one_decision_and_no_other(tmp_path):
    db = tmp_path / "visits.sqlite"
    shown = run_child(db, 8, "stall")
    assert len(shown) == 8  # all eight decisions were on the screen
    with VisitLog(db) as log:
        # The last one was still on its way to disk: it is lost, as promised, and only it.
        assert [r["visit_id"] for r in log.rows()] == shown[:-1]
        report = log.verify()
        assert report.ok, report
        assert log.pending_count() == 7  # every stored visit is still due for the hub


def test_at_most_one_visit_is_in_flight_and_readers_see_every_visit_handed_over(tmp_path):
    with VisitLog(tmp_path / "visits.sqlite") as log:
        release = threading.Event()
        write = log._handoff._write
        started = threading.Event()

        def slow(rec: VisitRecord) -> object:
            started.set()
            release.wait(30)
            return write(rec)

        log._handoff._write = slow
        first = log.hand_off(record(0))
        assert started.wait(30)
        second_handed = threading.Event()

        def hand_second() -> None:
            log.hand_off(record(1))
            second_handed.set()

        t = threading.Thread(target=hand_second)
        t.start()
        # The second hand-over waits while the first is not on disk yet.
        assert not second_handed.wait(0.2)
        assert not first.durable.is_set()
        release.set()
        t.join(30)
        assert second_handed.is_set() and first.wait(30)
        log._handoff._write = write
        for i in range(2, 20):
            log.hand_off(record(i))
        assert log.count() == 20  # a read settles what is in flight first
        assert [r["code_id"] for r in log.rows()] == [f"{i:032x}" for i in range(20)]
        log.append(record(20))  # a direct append after handed-over ones keeps the chain's order
        assert log.verify().ok


def test_a_visit_that_cannot_be_stored_is_reported_and_later_ones_still_are(tmp_path):
    errors: list[tuple[str, CheckpointError]] = []
    with VisitLog(tmp_path / "visits.sqlite", storage_cap_mb=1) as log:
        log.append(record(0))
        log.set_cap(0.0001)  # already over the cap: appends stop
        handed = log.hand_off(record(1), on_error=lambda rec, e: errors.append((rec.visit_id, e)))
        assert not handed.wait(30)
        assert isinstance(handed.error, StorageError) and "storage full" in str(handed.error)
        assert [(v, type(e)) for v, e in errors] == [(handed.item.visit_id, StorageError)]
        log.set_cap(16)
        assert log.hand_off(record(2)).wait(30)
        assert [r["code_id"] for r in log.rows()] == [f"{0:032x}", f"{2:032x}"]
