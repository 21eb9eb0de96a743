"""A visit log found damaged while running, noted beside it for the next start.

SQLite reports a damaged page only when something reads it: a log whose header and schema are intact
opens, takes visits, and fails later (a purge, an export, an upload reaching the page). The process that
meets SQLITE_CORRUPT cannot swap the file under the others sharing it, so it notes the damage here
(`visits.sqlite.damaged`, `scanner.storage.datadir`); the visit log's storage state shows it at once,
and the next start (`scanner.storage.stores`) checks the file and, if SQLite confirms the damage, sets it
aside and salvages its visits the way it does for a log that does not open at all.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from keys.durable import atomic_write_json
from scanner.storage.datadir import DAMAGE_NOTE_SUFFIX

log = logging.getLogger(__name__)


def note_path(log_path: Path) -> Path:
    return log_path.with_name(log_path.name + DAMAGE_NOTE_SUFFIX)


def note_damage(log_path: Path, what: str) -> None:
    """Note that an operation on the log found its file damaged (the first such note is kept)."""
    path = note_path(log_path)
    if path.exists():
        return
    try:
        atomic_write_json(path, {"at": time.time(), "error": what[:300]})
    except OSError as e:  # a card that fails to write this fails the next start's check too
        log.error("cannot note the damage of %s: %s", log_path, e.strerror or e)
        return
    log.error("visit log %s is damaged (%s): the next start sets it aside and salvages its visits", log_path, what)


def damage_noted(log_path: Path) -> str | None:
    """What the noted damage was, or None when none is noted."""
    try:
        doc = json.loads(note_path(log_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return "damage noted"
    return str(doc.get("error") or "damage noted") if isinstance(doc, dict) else "damage noted"


def clear_note(log_path: Path) -> None:
    note_path(log_path).unlink(missing_ok=True)
