"""The device registry in the hub's database: which certificates may talk to the hub, and where.

Every endpoint checks the client certificate's (device id, serial) here: enrolment is on by default. A
device is `enrolled` or `revoked`; revoking a device refuses every certificate of it, revoking one serial
refuses only that certificate (a re-issued one keeps working). Devices enter the registry from the
device CA's `enrolled.jsonl` (`checkpoint hub devices import`, or `hub serve --enrolled FILE`, which
imports new lines whenever the file changes); an import never brings back a revoked device or serial.

A device may be registered for a site and for venues (`checkpoint_id`s): the hub refuses visits at
venues it is not registered for, and sends it the admissions of its site (anti-passback across gates).

Answers are cached per process for `ttl` seconds (1 s by default), so a revocation takes effect on
every hub process within that time while a polling device costs no query per request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from keys.jsontypes import JsonObject
from sync.errors import SyncError
from sync.hub.store import HubStore

log = logging.getLogger("sync.hub")


class NotEnrolled(SyncError):
    """The certificate is not (or no longer) allowed to use the hub."""


@dataclass(frozen=True)
class Device:
    device_id: str
    site: str | None
    checkpoints: tuple[str, ...] | None


def _ms() -> int:
    return int(time.time() * 1000)


class Registry:
    def __init__(self, store: HubStore, *, enrolled_file: str | Path | None = None, ttl: float = 1.0):
        self.store = store
        self.enrolled_file = Path(enrolled_file) if enrolled_file else None
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, Device | str]] = {}
        self._mtime = -1.0
        self._lock = threading.Lock()

    # -- the check on every request -----------------------------------------------------------------

    def cached(self, device_id: str, serial: str) -> Device | None:
        """The answer of a recent `check` without touching the database; None when there is none."""
        hit = self._cache.get((device_id, serial))
        if hit is None or time.monotonic() - hit[0] > self.ttl:
            return None
        if isinstance(hit[1], str):
            raise NotEnrolled(hit[1])
        return hit[1]

    def check(self, device_id: str, serial: str) -> Device:
        """The registered device for this certificate; `NotEnrolled` naming why otherwise."""
        now = time.monotonic()
        hit = self._cache.get((device_id, serial))
        if hit is None or now - hit[0] > self.ttl:
            self._refresh_file()
            hit = (now, self._lookup(device_id, serial))
            with self._lock:
                if len(self._cache) > 100_000:
                    self._cache.clear()
                self._cache[(device_id, serial)] = hit
        if isinstance(hit[1], str):
            raise NotEnrolled(hit[1])
        return hit[1]

    def _lookup(self, device_id: str, serial: str) -> Device | str:
        with self.store.db.read() as tx:
            rows = tx.execute("SELECT d.state, d.site, d.checkpoints, c.serial, c.revoked_ms FROM devices d "
                              "LEFT JOIN device_certs c ON c.device_id = d.device_id AND c.serial = ? "
                              "WHERE d.device_id = ?", (serial, device_id))
        if not rows:
            return f"device {device_id}: not enrolled on this hub"
        state, site, checkpoints, cert, cert_revoked = rows[0]
        if state != "enrolled":
            return f"device {device_id}: revoked"
        if cert is None:  # a certificate of the device CA the hub never registered
            return f"device {device_id}: certificate {serial} is not enrolled"
        if cert_revoked is not None:
            return f"device {device_id}: certificate {serial} is revoked"
        return Device(device_id, site, tuple(json.loads(checkpoints)) if checkpoints else None)

    def _refresh_file(self) -> None:
        """Import the watched file's lines when it changed. What cannot be read is logged and skipped, never
        a device's answer: the registry in the database decides (a file caught half-written by the CA, or
        mistyped, would otherwise refuse every device, naming the hub's file to them)."""
        if self.enrolled_file is None:
            return
        try:
            mtime = self.enrolled_file.stat().st_mtime
        except OSError:
            return
        if mtime != self._mtime:
            bad: list[str] = []
            try:
                self.import_file(self.enrolled_file, bad=bad)
            except NotEnrolled as e:
                bad.append(str(e))
            # Not reached when the database failed (HubStoreError): the file is read again next time.
            self._mtime = mtime
            for problem in bad[:5]:
                log.warning("%s (skipped; read again when the file changes)", problem)

    # -- administration (`checkpoint hub devices …`) ------------------------------------------------

    def import_file(self, path: str | Path, *, bad: list[str] | None = None) -> int:
        """Add the certificates listed in a device CA's `enrolled.jsonl`; returns how many were new.

        A line that is not an enrolment line refuses the file (`NotEnrolled` naming it), or with `bad` is
        named there and skipped; a file that cannot be read is refused either way."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise NotEnrolled(f"{path}: cannot read: {err.strerror or err}") from None
        except UnicodeDecodeError:
            raise NotEnrolled(f"{path}: not UTF-8 text") from None
        entries = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
                entries.append((str(e["device_id"]), str(e["serial"]), e.get("not_after")))
            except (ValueError, KeyError, TypeError):
                problem = f"{path}:{n}: not an enrolment line (JSON with device_id and serial)"
                if bad is None:
                    raise NotEnrolled(problem) from None
                bad.append(problem)
        added = 0
        for device_id, serial, not_after in entries:
            added += self.add(device_id, serial, not_after=not_after if isinstance(not_after, int) else None)
        return added

    def add(self, device_id: str, serial: str, *, not_after: int | None = None) -> int:
        """Register a certificate (and its device); 1 if it was new. Never clears a revocation."""
        with self.store.db.transaction() as tx:
            tx.execute("INSERT INTO devices (device_id, state, enrolled_ms) VALUES (?, 'enrolled', ?) "
                       "ON CONFLICT DO NOTHING", (device_id, _ms()))
            before = tx.execute("SELECT COUNT(*) FROM device_certs WHERE device_id = ? AND serial = ?",
                                (device_id, serial))[0][0]
            tx.execute("INSERT INTO device_certs (device_id, serial, not_after, added_ms) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT DO NOTHING", (device_id, serial.lower(), not_after, _ms()))
        self._cache.clear()
        return 0 if before else 1

    def place(self, device_id: str, *, site: str | None, checkpoints: list[str] | None) -> None:
        """Register the device's site and the venues it may log visits for (None: any venue)."""
        with self.store.db.transaction() as tx:
            if not tx.execute("SELECT 1 FROM devices WHERE device_id = ?", (device_id,)):
                raise NotEnrolled(f"device {device_id}: not enrolled on this hub")
            tx.execute("UPDATE devices SET site = ?, checkpoints = ? WHERE device_id = ?",
                       (site, json.dumps(sorted(set(checkpoints))) if checkpoints else None, device_id))
        self._cache.clear()

    def revoke(self, device_id: str, *, serial: str | None = None, reason: str = "") -> None:
        with self.store.db.transaction() as tx:
            if not tx.execute("SELECT 1 FROM devices WHERE device_id = ?", (device_id,)):
                raise NotEnrolled(f"device {device_id}: not enrolled on this hub")
            if serial is None:
                tx.execute("UPDATE devices SET state = 'revoked', revoked_ms = ?, revoked_reason = ? "
                           "WHERE device_id = ?", (_ms(), reason or None, device_id))
            else:
                if not tx.execute("SELECT 1 FROM device_certs WHERE device_id = ? AND serial = ?",
                                  (device_id, serial.lower())):
                    raise NotEnrolled(f"device {device_id}: no certificate {serial} registered")
                tx.execute("UPDATE device_certs SET revoked_ms = ? WHERE device_id = ? AND serial = ?",
                           (_ms(), device_id, serial.lower()))
        self._cache.clear()

    def devices(self) -> list[JsonObject]:
        with self.store.db.read() as tx:
            # Last contact: the time of the device's latest health record (every round brings one).
            rows = tx.execute("SELECT d.device_id, d.state, d.site, d.checkpoints, d.enrolled_ms, d.revoked_ms, "
                              "d.revoked_reason, (SELECT h.received_ms FROM device_health h WHERE h.device_id = "
                              "d.device_id), (SELECT COUNT(*) FROM device_certs c WHERE c.device_id = d.device_id), "
                              "(SELECT COUNT(*) FROM device_certs c WHERE c.device_id = d.device_id AND "
                              "c.revoked_ms IS NULL) FROM devices d ORDER BY d.device_id")
        names = ("device_id", "state", "site", "checkpoints", "enrolled_ms", "revoked_ms", "revoked_reason",
                 "last_seen_ms", "certificates", "valid_certificates")
        out = []
        for r in rows:
            d = dict(zip(names, r, strict=True))
            d["checkpoints"] = json.loads(d["checkpoints"]) if d["checkpoints"] else None
            d["valid_certificates"] = int(d["valid_certificates"] or 0)
            out.append(d)
        return out
