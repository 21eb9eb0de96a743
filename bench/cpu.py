"""CPU seconds a process and its descendants have used, read from /proc (Linux; no psutil).

On a two-core machine the benchmark's own clients take CPU the server would otherwise have, so a
rate (visits/s, rounds/s) says little about the server. What the server costs per unit of work is its
CPU time over the run divided by the work done: `ProcessTree(pid)` samples the process, its live
descendants (hub workers, PostgreSQL backends) and the children already reaped (their time is added
to the parent's `cutime`/`cstime`).
"""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its reaped children), or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = text[text.rindex(")") + 2:].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, (utime + stime + cutime + cstime) / _TICK


def tree_seconds(root: int) -> float:
    """CPU seconds of `root` and every live descendant (each including its reaped children)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = _stat(int(entry))
            if s is not None:
                stats[int(entry)] = s
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
        todo += children.get(pid, [])
    return total


class ProcessTree:
    """CPU seconds a process tree used between `start()` and `seconds()`."""

    def __init__(self, pid: int):
        self.pid = pid
        self.base = 0.0

    def start(self) -> None:
        self.base = tree_seconds(self.pid)

    def seconds(self) -> float:
        return tree_seconds(self.pid) - self.base
