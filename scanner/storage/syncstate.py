"""The contract between the sync agent and the kiosk, two processes sharing the data directory.

The agent writes its state to `sync-status.json` atomically; the kiosk (and `checkpoint sync --status`)
only reads it, so nothing goes over the network and a kiosk crash never stops uploads. The kiosk asks
for a sync now by creating `sync-request`; the agent takes (removes) it and starts a round. It lives in
`scanner/` because both `sync/` and `ui/` build on it. Fields of the status file:

* `updated_at`: when the agent wrote the file (Unix seconds);
* `online`: whether the last contact with the hub succeeded; `consecutive_failures`, `next_attempt_at`;
* `last_success`, `last_attempt`, `last_error` (plain words, or null);
* `pending`: visits not yet acknowledged by the hub; `uploaded_total` acknowledged so far and
  `duplicates_total`, how many of those the hub already held (a resend after a lost answer);
* `hub_time_offset`: hub time minus device time in seconds at `hub_time_measured_at` (device time),
  with `hub_time_rtt` (round trip, the offset's uncertainty); the trusted clock reads these
  (`scanner.clock.TrustedClock.confirm_offset`, called from `Session.snapshot`);
* `trust_list`: `{version, issued_at, next_update, age, etag, error}`;
* `status_lists`: per issuer `{version, issued_at, next_update, age, error}`;
* `rules_list`: the signed business rules `{version, issued_at, next_update, age, etag, error, problem}`;
* `dcc_revocation`: the EU DCC revocation list `{version, issued_at, next_update, age, etag, error}`;
* `profiles`: venue profile overrides from the hub `{version, etag, error}` (file `venue-profiles.json`);
* `storage`: the visit log's `{percent, alarm, full, message, damage, status_store}`: `damage` is the notice of
  a damaged log salvaged (`scanner/storage/recovered.py`) until an operator acknowledges it, `status_store`
  why the agent's status store started empty (its file was damaged and set aside);
* `steps`: the last round's steps (`checkpoint`, `contact`, `upload`, `trust_list`, `status_lists`,
  `dcc_revocation`, `rules_list`, `profiles`, `purge`), each `{ok, at, error}`: one failing step never
  hides the others' outcome.
  `online` is true only when every step that needed the hub got a valid answer;
* `trust_list.problem`: why the device holds no valid trust list (or runs on its bootstrap list): a
  cached list refused at start-up and set aside, or a refused bootstrap file.
"""

from __future__ import annotations

import json
import math
import os
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

from keys.durable import atomic_write_json
from keys.jsontypes import Json, JsonObject
from scanner.storage.datadir import SYNC_REQUEST_FILE, SYNC_STATUS_FILE

STATUS_FILE = SYNC_STATUS_FILE


@dataclass
class SyncStatus:
    updated_at: float | None = None
    online: bool = False
    consecutive_failures: int = 0
    next_attempt_at: float | None = None
    last_success: float | None = None
    last_attempt: float | None = None
    last_error: str | None = None
    pending: int = 0
    uploaded_total: int = 0
    duplicates_total: int = 0
    hub_time_offset: float | None = None
    hub_time_rtt: float | None = None
    hub_time_measured_at: float | None = None
    trust_list: JsonObject = field(default_factory=dict)
    status_lists: dict[str, JsonObject] = field(default_factory=dict)
    profiles: JsonObject = field(default_factory=dict)
    rules_list: JsonObject = field(default_factory=dict)
    dcc_revocation: JsonObject = field(default_factory=dict)
    storage: JsonObject = field(default_factory=dict)
    steps: dict[str, JsonObject] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: JsonObject) -> SyncStatus:
        """The fields `data` holds with the types the agent writes; a field of another type (a damaged or
        foreign file) keeps its default, so no reader fails on it (the kiosk reads this every second)."""
        hints = typing.get_type_hints(cls)
        return cls(**{k: v for k, v in data.items() if k in hints and _fits(v, hints[k])})


def _fits(value: Json, hint: object) -> bool:
    """Whether a parsed JSON value is of a `SyncStatus` field's type (`X | None`, float, int, bool, str, a
    JSON object, or a JSON object of JSON objects)."""
    union = typing.get_origin(hint) in (types.UnionType, typing.Union)
    for t in typing.get_args(hint) if union else (hint,):
        if t is type(None) and value is None:
            return True
        if t is float and isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return True
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t in (bool, str) and isinstance(value, t):
            return True
        if typing.get_origin(t) is dict and isinstance(value, dict):
            inner = typing.get_args(t)[1]
            return typing.get_origin(inner) is not dict or all(isinstance(v, dict) for v in value.values())
    return False


def write_status(data_dir: str | Path, status: SyncStatus) -> Path:
    """Replace the status file atomically (write, fsync, rename)."""
    return atomic_write_json(Path(data_dir) / STATUS_FILE, asdict(status))


def read_status(data_dir: str | Path) -> SyncStatus | None:
    """The last state the agent wrote, or None if it never ran (or the file is unreadable)."""
    try:
        data = json.loads((Path(data_dir) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return SyncStatus.from_json(data) if isinstance(data, dict) else None


def request_sync(data_dir: str | Path, now: float) -> Path:
    """Ask the sync agent for a round now (the kiosk's "sync now")."""
    return atomic_write_json(Path(data_dir) / SYNC_REQUEST_FILE, {"requested_at": now})


def take_sync_request(data_dir: str | Path) -> bool:
    """True, once, if a sync was requested since the last call (the request is consumed). A request that
    cannot be consumed (a folder in its place, a data directory the agent may not write) is none: it would
    otherwise ask for a round at every poll, or end the agent's rounds; they keep their interval."""
    try:
        os.unlink(Path(data_dir) / SYNC_REQUEST_FILE)
    except OSError:  # FileNotFoundError: no request
        return False
    return True
