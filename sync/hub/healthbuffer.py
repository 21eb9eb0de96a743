"""Write-behind of device health records: a sync round is answered without waiting for the database.

Every round brings the device's health record, whose time is the device's last contact. Writing it
before answering cost each round a database transaction (on PostgreSQL a hop to a worker thread and two
network round trips); the round is otherwise answered from memory (`sync.hub.roundcache`). So each hub
process keeps the latest record per device here, and one background thread writes what has gathered in
one transaction: at once when the process was idle, else at most once per `window` seconds (0.25 s by
default), so under load one transaction carries the records of hundreds of rounds.

What this may lose, and what it never touches:

* A process killed without warning (SIGKILL, power loss) loses at most its last `window` of health
  records and last-contact times; the device's next round brings a fresh record. A clean stop (SIGTERM)
  writes what is pending first.
* Visits and their acknowledgements never go through here: an upload is answered after its transaction
  has committed durably.
* A later round of the same device within the window replaces the earlier record; the errors it
  reports are counted against the record stored before (`health_writes`), so none go uncounted. A
  record never replaces a newer one another process wrote (the upsert compares the times).
* Other processes (and the CLI) see a record up to `window` seconds (plus one transaction) late; this
  process's operator pages call `flush()` before reading, so they show every round it answered.

At most `limit` devices are held; a round finding the buffer full writes it itself (`add` returns
False) before being answered, so a stalled database slows rounds down instead of growing memory.
"""

from __future__ import annotations

import logging
import math
import threading
import time

from keys.jsontypes import Json
from sync.hub.devicehealth import record_many
from sync.hub.store import HubStore

log = logging.getLogger("sync.hub")


class HealthBuffer:
    def __init__(self, store: HubStore, *, window: float = 0.25, limit: int = 100_000, writer: bool = True):
        """`writer=False`: no background thread; the owner calls `flush`."""
        self.store = store
        self.window = window
        self.limit = limit
        self._pending: dict[str, tuple[int, Json]] = {}
        self._lock = threading.Lock()  # guards _pending
        self._writing = threading.Lock()  # one write at a time, so records reach the database in order
        self._wake = threading.Event()
        self._stop = threading.Event()
        if not writer:
            self._stop.set()
        self._thread: threading.Thread | None = None
        # Monotonic time of the last write's start; none yet: the first record is written at once (the
        # monotonic clock starts near 0 at boot, so 0.0 would hold it back for a window after a boot).
        self._last = -math.inf

    def add(self, device_id: str, raw: Json, received_ms: int) -> bool:
        """Keep the device's record for the next write; False when the buffer is full (call `flush`)."""
        with self._lock:
            self._pending[device_id] = (received_ms, raw)
            room = len(self._pending) < self.limit
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="health-writer", daemon=True)
                self._thread.start()
        self._wake.set()
        return room

    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Write every pending record now (in the caller's thread); how many were written."""
        with self._writing:
            with self._lock:
                batch, self._pending = self._pending, {}
            if not batch:
                return 0
            self._last = time.monotonic()
            try:
                record_many(self.store, batch)
            except BaseException:
                with self._lock:  # kept for the next write, unless the device has sent a newer one since
                    for device_id, rec in batch.items():
                        self._pending.setdefault(device_id, rec)
                raise
            return len(batch)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            # Records arriving while the last write ran (or right after it) wait for the window: under
            # load they go together; the first record after a quiet spell is written at once.
            if self._stop.wait(max(0.0, self._last + self.window - time.monotonic())):
                break
            self._wake.clear()
            try:
                self.flush()
            except Exception as e:  # the database is down: the records stay pending, tried again later
                log.warning("writing device health records: %s", e)
                self._stop.wait(self.window)
                self._wake.set()

    def close(self) -> None:
        """Stop the writer and write what is pending (a clean shutdown loses nothing)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        try:
            self.flush()
        except Exception as e:
            log.warning("writing device health records at shutdown: %s (%d records lost)", e, self.pending())
