"""A hardware serial scanner on a real pseudo-terminal: the test writes to the master side as the scanner would."""

from __future__ import annotations

import contextlib
import os
import tty
from collections.abc import Iterator


@contextlib.contextmanager
def serial_pty() -> Iterator[tuple[int, str]]:
    """(master fd to write scans to, the slave's device path for `scanner.serial_port`)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        for fd in (master, slave):
            with contextlib.suppress(OSError):
                os.close(fd)
