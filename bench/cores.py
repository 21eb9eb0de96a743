"""Every benchmark twice: on all the machine's cores, then pinned to one (`taskset -c 0`), both printed.

A Raspberry Pi-class device has few, slow cores and shares them with the UI; a figure measured on an
idle many-core machine hides contention. A bench calls `header()` for its first line and
`then_one_core(module)` at the end: the second call re-runs the same module with the same arguments
under `taskset -c 0` (the child knows from the environment that it is the pinned run). Inputs that are
fresh on every run (freshly signed codes: a new key, a random ECDSA nonce) go through `shared`, so that
both runs measure the same input.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

PINNED_ENV = "CHECKPOINT_BENCH_ONE_CORE"
SHARED_ENV = "CHECKPOINT_BENCH_SHARED"

T = TypeVar("T")
_shared: dict[str, object] = {}


def pinned() -> bool:
    """True in the run pinned to one core."""
    return os.environ.get(PINNED_ENV) == "1"


def shared(name: str, make: Callable[[], T]) -> T:
    """`make()` in the all-core run; in the one-core run the very value the all-core run made (JSON)."""
    path = os.environ.get(SHARED_ENV)
    if pinned() and path:
        made: dict[str, T] = json.loads(Path(path).read_text(encoding="utf-8"))
        if name in made:
            return made[name]
    value = make()
    _shared[name] = value
    return value


def label() -> str:
    if pinned():
        return "one core (taskset -c 0)"
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"all {n} cores"


def header(name: str) -> None:
    load = f" (load average {os.getloadavg()[0]:.2f} at start)" if hasattr(os, "getloadavg") else ""
    print(f"=== {name} — {label()}{load}", flush=True)


def then_one_core(module: str) -> None:
    """Re-run `python -m module` with this run's arguments pinned to core 0 (nothing in the pinned run)."""
    if pinned():
        return
    taskset = shutil.which("taskset")
    if taskset is None:
        print("\n(taskset not found: no one-core run)", flush=True)
        return
    print(flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, PINNED_ENV: "1"}
        if _shared:
            path = Path(tmp) / "shared.json"
            path.write_text(json.dumps(_shared), encoding="utf-8")
            env[SHARED_ENV] = str(path)
        subprocess.run([taskset, "-c", "0", sys.executable, "-m", module, *sys.argv[1:]], env=env, check=False)
