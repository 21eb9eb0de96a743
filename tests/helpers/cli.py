"""`checkpoint ARGS` as a process, the way an operator or a script runs it, from this checkout."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import REPO


def checkpoint(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `checkpoint ARGS` to its end; its exit code, stdout and stderr as text."""
    return subprocess.run([sys.executable, "-m", "scanner.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})
