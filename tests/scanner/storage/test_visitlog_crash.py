"""Crash safety: a child appends visits in a loop and is SIGKILLed at random moments, 20 times.

Every id the child printed (printed only after `append()` returned) must be in the log afterwards, the
database must pass `PRAGMA integrity_check` and the hash chain must verify.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from scanner.storage.visitlog import VisitLog
from tests.helpers import REPO as ROOT

CHILD = r"""
import sys, time
from scanner.storage.visitlog import VisitLog, VisitRecord
from scanner.storage.chain import new_visit_id
log = VisitLog(sys.argv[1])
print("ready", flush=True)
while True:
    now = time.time()
    rec = VisitRecord(visit_id=new_visit_id(now), ts_ms=int(now * 1000), device_id="dev-crash",
                      checkpoint_id="gate-1", profile="transport", clock_trusted=True, verdict="ok",
                      admit=True, tone="pass", extra={"drug_categories": ["antiviral"]})
    log.append(rec)
    sys.stdout.write(rec.visit_id + "\n")
    sys.stdout.flush()
"""


def test_sigkill_at_random_moments_loses_no_acknowledged_visit(tmp_path):
    db = tmp_path / "visits.sqlite"
    rng = random.Random(4)
    printed: list[str] = []
    for _ in range(20):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], cwd=ROOT, stdout=subprocess.PIPE,
                                 text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        for _ in range(rng.randint(1, 40)):
            line = child.stdout.readline().strip()
            if line:
                printed.append(line)
        # A random extra moment so the kill lands anywhere inside append(), not only between them.
        time.sleep(rng.random() * 0.02)
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=60)
        printed.extend(x for x in rest.split("\n") if x.strip())
        assert child.returncode == -signal.SIGKILL
    with VisitLog(db) as log:
        assert log.integrity_check() == "ok"
        stored = {r["visit_id"] for r in log.rows()}
        assert set(printed) <= stored
        assert len(printed) >= 20
        report = log.verify()
        assert report.ok, report
        assert log.pending_count() == log.count()
