"""The device's state at a glance: clock, list freshness, sync, counts, camera, storage. No Qt.

`Session.snapshot()` computes a `StatusSnapshot`, which the kiosk's status bar shows once a second. Stale
data never looks fresh: a list past its `next_update` is stale, a missing list counts as stale, and a sync
state that cannot be read is "unknown", never "online".
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The sync agent's file is written every sync interval; older than this, its "online" is not believed.
SYNC_STATUS_MAX_AGE = 600.0


@dataclass(frozen=True)
class SyncState:
    online: bool | None  # None: unknown (no agent, unreadable or old file)
    pending: int | None
    last_success: float | None = None
    last_error: str | None = None
    # The agent's measurement of hub time minus device time, for the trusted clock.
    hub_time_offset: float | None = None
    hub_time_measured_at: float | None = None


@dataclass(frozen=True)
class StatusSnapshot:
    now: float
    clock_trusted: bool
    clock_reason: str | None
    sync: SyncState
    trust_list_issued: float | None
    trust_list_stale: bool
    status_list_issued: float | None  # the oldest of the issuers' lists
    status_list_stale: bool
    device: str
    checkpoint: str
    admitted_today: int
    denied_today: int
    camera_ok: bool = True
    camera_message: str = ""
    flow: str = "none"
    trust_list_problem: str | None = None  # why the device holds no (or only the bootstrap) trust list
    extra: Mapping[str, str | None] = field(default_factory=dict)  # more problems by name, e.g. "storage"
    manual_today: int = 0  # manual checks, counted apart from refusals

    @property
    def data_stale(self) -> bool:
        return self.trust_list_stale or self.status_list_stale


def read_sync_status(data_dir: Path, now: float) -> SyncState:
    """The sync agent's state (`scanner.storage.syncstate`); no file, an unreadable one or an old one is "unknown"."""
    from scanner.storage.syncstate import read_status

    st = read_status(data_dir)
    if st is None:
        return SyncState(None, None)
    online: bool | None = st.online
    if st.updated_at is None or now - st.updated_at > SYNC_STATUS_MAX_AGE:
        online = None  # the agent stopped writing: its last word is no longer news
    return SyncState(online, st.pending, st.last_success, st.last_error or None, st.hub_time_offset,
                     st.hub_time_measured_at)


def local_midnight(now: float) -> float:
    t = time.localtime(now)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))
