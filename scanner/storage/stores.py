"""`open_stores(settings)`: the one place that opens a device's trust store, status store, rules list and
visit log.

The CLI, the kiosk, the sync agent and the demo all open their stores here, so the bootstrap rules are
the same everywhere: a trust list from the config is taken only when none has been synced yet, and a
bootstrap status list older than the synced one is simply not applied.
Nothing here refuses to start because of a bad list: a cached trust list that no longer verifies is set
aside for inspection, a bad bootstrap list is skipped, and `trust.problem` says so (the device then holds
no valid trust list until the sync agent fetches one). Nor because of a damaged database: a status store
or visit log that is not SQLite any more is set aside (`.bad-N`) and a new one started; the visits still
readable in a damaged visit log are salvaged into the new one (`scanner/storage/salvage.py`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.errors import ConfigError, StorageError
from scanner.storage.datadir import DataDir

if TYPE_CHECKING:
    from keys.keyfile import PublicKey
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore
    from scanner.config import Settings
    from scanner.rules.ruleslist import RulesStore
    from scanner.storage.visitlog import VisitLog

log = logging.getLogger(__name__)


@dataclass
class Stores:
    """A device's open stores. `trust` and `status` are None only when no trust anchor is configured and
    the caller allowed that (the sync agent still uploads visits without one)."""

    data: DataDir
    anchors: list[PublicKey]
    trust: TrustStore | None
    status: StatusStore | None
    visit_log: VisitLog | None
    # The signed business rules; None without a trust anchor, empty (no list) until one is synced.
    rules: RulesStore | None = None

    def close(self) -> None:
        if self.visit_log is not None:
            self.visit_log.close()
        if self.status is not None:
            self.status.close()


def open_stores(settings: Settings, *, visit_log: bool = True, require_trust: bool = True,
                data_dir: Path | None = None) -> Stores:
    """Open (creating where needed) the stores under the settings' data directory (or `data_dir`)."""
    from keys.errors import KeysError
    from keys.keyfile import load_public_key
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore
    from scanner.rules.ruleslist import RulesStore

    data = DataDir(Path(data_dir) if data_dir is not None else settings.data_dir)
    anchors = [load_public_key(p) for p in settings.trust.anchors]
    if not anchors and require_trust:
        raise ConfigError(settings.source, ["trust.anchors: at least one trust anchor is needed"])
    trust: TrustStore | None = None
    status: StatusStore | None = None
    rules: RulesStore | None = None
    try:
        data.root.mkdir(parents=True, exist_ok=True)
        if anchors:
            trust = TrustStore.open(data.trust, anchors, bootstrap=settings.trust.trust_list or None)
            status = StatusStore.open(data.status_db)
            for p in settings.trust.status_lists:
                try:
                    status.apply_file(p, trust, p, only_newer=True, progress=_starting())
                except (OSError, KeysError) as e:  # an older bootstrap list than the synced one is expected
                    log.info("bootstrap status list %s not applied: %s", p, e)
            rules = RulesStore.open(data.rules, anchors, bootstrap=settings.trust.rules_list or None)
    except (OSError, sqlite3.Error) as e:
        # A mistyped path, or one the service may not write (the systemd units' ReadWritePaths=).
        where = getattr(e, "filename", None) or data.root
        raise StorageError(f"device.data_dir {data.root}: cannot write {where}: "
                           f"{getattr(e, 'strerror', None) or e}") from e
    log_ = _open_visit_log(data.visits_db, settings) if visit_log else None
    return Stores(data, anchors, trust, status, log_, rules)


# While a bootstrap status list is applied before the service is ready, systemd is asked for this much more
# time at least every EXTEND_EVERY seconds: a province's list takes minutes on a Pi, past TimeoutStartSec=.
EXTEND_S, EXTEND_EVERY = 30.0, 10.0


def _starting() -> Callable[[], None]:
    """A progress callback extending systemd's start timeout (a no-op outside systemd)."""
    import time

    from scanner.service.sdnotify import extend_timeout

    last: list[float] = []

    def progress() -> None:
        now = time.monotonic()
        if not last or now - last[0] >= EXTEND_EVERY:
            last[:] = [now]
            extend_timeout(EXTEND_S)
    return progress


def _open_visit_log(path: Path, settings: Settings) -> VisitLog:
    """The visit log; a damaged file (one that does not open, or whose damage a process met while running
    and SQLite's quick check confirms) is kept aside, a new log with an id of its own is started (so the
    device goes on recording instead of failing at every start), and the visits still readable in the
    damaged file are salvaged into it for the sync agent to upload (`salvage_at_start`)."""
    from keys.durable import damaged, file_identity, set_aside_database
    from scanner.storage.damagenote import clear_note, damage_noted
    from scanner.storage.visitlog import VisitLog

    def open_log() -> VisitLog:
        return VisitLog(path, storage_cap_mb=settings.log.storage_cap_mb,
                        alarm_percent=settings.log.storage_alarm_percent)

    judged = file_identity(path)
    try:
        opened = open_log()
    except StorageError as e:
        if e.__cause__ is None or not damaged(e.__cause__):
            raise
        why = str(e.__cause__)
    else:
        if damage_noted(path) is None:
            return opened
        # Damage met while running (`scanner.storage.damagenote`): set aside only if SQLite confirms it.
        try:
            found = opened.integrity_check(quick=True)
        except StorageError as e:
            found = str(e.__cause__ or e)
        if found == "ok":
            clear_note(path)
            return opened
        opened.close()
        why = found
    kept = set_aside_database(path, judged=judged)
    clear_note(path)
    if kept:
        log.error("visit log %s was damaged (%s); kept as %s with the visits it holds, a new log is started",
                  path, why, ", ".join(kept))
    else:
        # The process that set it aside (the kiosk or the sync agent, starting together) salvages it.
        log.error("visit log %s was damaged (%s); another process set it aside and started a new log", path, why)
    new = open_log()
    salvage_at_start(new, path.with_name(kept[0]) if kept else None)
    return new


# A start-up salvage reads at most this long and a file at most this large (it copies the file first: 128 MB
# is a few seconds on an SD card, and some 200,000 visits): a huge damaged file must not stall the device's
# start. What it leaves is read by `checkpoint log salvage FILE`, which has no bound.
START_SALVAGE_SECONDS = 10.0
START_SALVAGE_BYTES = 128 * 1024 * 1024


def salvage_at_start(new: VisitLog, damaged_file: Path | None) -> None:
    """Salvage the visits of a damaged log just set aside into the new log (bounded), and say so."""
    import time

    from scanner.storage.salvage import Salvage, salvage

    if damaged_file is None or not damaged_file.exists():
        return
    size = damaged_file.stat().st_size
    if size > START_SALVAGE_BYTES:
        result = Salvage(damaged_file.name, complete=False,
                         problem=f"{size // (1024 * 1024)} MB is too large to read at start-up")
    else:
        result = salvage(damaged_file, deadline=time.monotonic() + START_SALVAGE_SECONDS)
    try:
        new.recovered.add(result)
    except StorageError as e:
        log.error("visits salvaged from %s could not be kept: %s", damaged_file, e)
        return
    log.error("salvaged %s: %d visits recovered (%d for the hub), %d could not be read%s", damaged_file.name,
              result.recovered, len(result.rows), result.unreadable,
              "" if result.complete else f"; stopped early: run `checkpoint log salvage {damaged_file}`")
