"""The agent's upload steps: the device key signs checkpoints of the visit log's head, and the outbox
goes to the hub in gzip JSON batches.

Each batch carries the log id and the device's signature over its last row, so the hub can anchor the
chain. Rows are marked synced only once the hub acknowledged them, and the hub's (last seq, last chain) is
kept in the log: a hub holding more of the log than the device has means rows were removed from the device.
Visits salvaged from a damaged log follow the outbox, in batches of their own log.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from scanner.service.sdnotify import Notifier
from scanner.storage.chain import ChainedVisitRow
from scanner.storage.syncstate import SyncStatus
from sync.answers import UploadAck, parse_answer
from sync.errors import HubRefused, SyncConfigError
from sync.transport import HubClient

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from scanner.storage.visitlog import VisitLog
    from sync.agent import AgentConfig

log = logging.getLogger("sync.agent")


def _smaller_batch(refused: HubRefused, rows: int) -> int:
    """The batch size to send again with after the hub refused a batch of `rows` visits: half of it when the
    hub found the batch too large (413: long rows inflate past its limit), down to one row; any other
    refusal, or a single row still too large, is raised again."""
    if refused.status != 413 or rows == 1:
        raise refused
    size = rows // 2
    log.warning("hub found a batch of %d visits too large; sending %d at a time", rows, size)
    return size


def _acked(ack: UploadAck, rows: list[ChainedVisitRow], what: str) -> list[str]:
    """The visit ids of `rows` the hub acknowledged; none at all is a refusal (`what`: the batch, in words)."""
    sent = {row["visit_id"] for row in rows}
    acked = [i for i in ack.acked if i in sent]
    if not acked:
        raise HubRefused(200, f"the hub acknowledged none of {what}"
                         + (f" ({ack.refused[0].reason})" if ack.refused else ""))
    return acked


def damage_notice(others: Mapping[str, int], notice: str) -> str | None:
    """The visit log's damage notice (`notice`, "" for none) for the status and the health record, adding the
    salvaged visits of other devices this device keeps and does not upload (`others`, by device:
    `RecoveredVisits.of_other_devices`)."""
    if others:
        # First: the hub keeps only the start of a long notice.
        kept = ", ".join(f"{n} salvaged visits are of device {d}" for d, n in others.items())
        notice = "; ".join(filter(None, [f"{kept}: kept, not uploaded (the hub takes them only from that device)",
                                         notice]))
    return notice or None


class SignedCheckpoint(TypedDict):
    """The device key's signature over the log's head, as the hub receives it."""

    seq: int
    chain: str
    signature: str


@dataclass
class UploadReport:
    """What one upload step achieved: rows the hub stored, rows it already held, chain breaks it flagged."""

    stored: int = 0
    duplicates: int = 0
    chain_breaks: int = 0


class UploadSteps:
    """Mixed into `SyncAgent`, which provides these attributes."""

    config: AgentConfig
    client: HubClient
    state: SyncStatus
    log: VisitLog
    notifier: Notifier
    _device_key: ec.EllipticCurvePrivateKey | None

    # -- the device key and checkpoints -------------------------------------------------------------

    def _key(self) -> ec.EllipticCurvePrivateKey:
        """The device's TLS client key, which also signs the log's checkpoints (EC P-256)."""
        if self._device_key is None:
            from cryptography.hazmat.primitives.asymmetric import ec

            from keys.errors import KeysError
            from keys.keyfile import load_private_key

            try:
                key = load_private_key(self.config.client_key)
            except (KeysError, OSError, ValueError) as e:
                raise SyncConfigError(f"device key {self.config.client_key}: cannot load it to sign "
                                      f"checkpoints ({e})") from None
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise SyncConfigError(f"device key {self.config.client_key}: not an EC P-256 key")
            self._device_key = key
        return self._device_key

    def checkpoint(self) -> SignedCheckpoint | None:
        """Sign the log's head if no checkpoint covers it yet; return the newest checkpoint for the hub."""
        from scanner.storage.chain import checkpoint_message, sign_checkpoint

        seq, chain = self.log.head()
        if seq == 0:
            return None
        last = self.log.last_checkpoint()
        if last is None or last.seq < seq:
            message = checkpoint_message(self.config.device_id, self.log.log_id, seq, chain)
            self.log.add_checkpoint(seq, chain, sign_checkpoint(self._key(), message))
            last = self.log.last_checkpoint()
        return SignedCheckpoint(seq=last.seq, chain=last.chain, signature=last.signature) if last else None

    def _prepare(self, after_seq: int, size: int) -> tuple[list[ChainedVisitRow], bytes] | None:
        rows = self.log.pending(size, after_seq=after_seq)
        if not rows:
            return None
        from scanner.storage.chain import checkpoint_message, sign_checkpoint

        last = rows[-1]
        # Each batch carries the device's signature over its last row, so the hub can anchor the chain.
        cp = SignedCheckpoint(seq=last["seq"], chain=last["chain"], signature=sign_checkpoint(
            self._key(), checkpoint_message(self.config.device_id, self.log.log_id, last["seq"], last["chain"])))
        body = json.dumps({"log_id": self.log.log_id, "visits": rows, "checkpoint": cp},
                          separators=(",", ":"), ensure_ascii=False).encode()
        return rows, gzip.compress(body, compresslevel=3)

    def _post_batch(self, body: bytes) -> UploadAck:
        a = self.client.request("POST", "/v1/visits", data=body, what="upload",
                                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        if a.status != 200:
            raise HubRefused(a.status, "upload not accepted")
        return parse_answer(UploadAck, a.body, "upload")

    def upload(self) -> UploadReport:
        """Upload the whole outbox; each batch is marked synced only once the hub acknowledged it.

        A batch the hub finds too large (413: long rows inflate past its limit) is sent again in halves, down
        to one row, and the smaller size holds for the rest of the round."""
        report = UploadReport()
        size = self.config.batch_size
        after = 0
        batch = self._prepare(after, size)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload") as pool:
            while batch is not None:
                rows, body = batch
                sending = pool.submit(self._post_batch, body)
                # Read and compress the next batch while the hub stores this one.
                following = self._prepare(rows[-1]["seq"], size)
                try:
                    ack = sending.result()
                except HubRefused as e:
                    size = _smaller_batch(e, len(rows))
                    batch = self._prepare(after, size)
                    continue
                after, batch = rows[-1]["seq"], following
                self._record_ack(ack)
                acked = _acked(ack, rows, "the batch")
                # Rows the hub did not acknowledge stay in the outbox for the next round.
                self.log.mark_synced(acked)
                for b in ack.chain_breaks[:5]:
                    log.warning("hub flagged a chain break at visit %s (seq %s): %s", b.visit_id, b.seq, b.problem)
                for c in [*ack.conflicts, *ack.refused][:5]:
                    log.warning("hub flagged visit seq %s: %s", c.seq, c.reason)
                self._count(report, ack, acked)
        self._upload_recovered(report)
        self.state.pending = self.log.pending_count()
        return report

    def _upload_recovered(self, report: UploadReport) -> None:
        """Visits salvaged from a damaged log (`scanner/storage/recovered.py`): sent verbatim under that log's
        id and marked recovered, without a checkpoint (the device key does not vouch for rows read back from
        a damaged file); the hub files each once, whatever of that log it held before. A batch the hub finds
        too large is sent again in halves, as the outbox's are."""
        size = self.config.batch_size
        # Visits of another device (a damaged log copied from it) are kept, not sent: the hub refuses any
        # batch holding them from this device, and would at every round (`damage_notice` says so).
        while (pending := self.log.recovered.pending(size, self.config.device_id)) is not None:
            log_id, rows = pending
            body = json.dumps({"log_id": log_id, "visits": rows, "recovered": True},
                              separators=(",", ":"), ensure_ascii=False).encode()
            try:
                ack = self._post_batch(gzip.compress(body, compresslevel=3))
            except HubRefused as e:
                size = _smaller_batch(e, len(rows))
                continue
            acked = _acked(ack, rows, "the visits recovered from a damaged log")
            self.log.recovered.mark_synced(log_id, acked)
            for b in ack.chain_breaks[:5]:
                log.warning("hub flagged a chain break in recovered log %s at seq %s: %s", log_id, b.seq, b.problem)
            self._count(report, ack, acked)

    def _count(self, report: UploadReport, ack: UploadAck, acked: list[str]) -> None:
        """Add a batch the hub acknowledged to the round's report and the running totals."""
        report.stored += ack.stored
        report.duplicates += ack.duplicates
        report.chain_breaks += len(ack.chain_breaks)
        self.state.uploaded_total += len(acked)
        self.state.duplicates_total += ack.duplicates
        self.notifier.watchdog()

    def _record_ack(self, ack: UploadAck) -> None:
        """Keep the hub's view of this log; a hub holding more than the device has means a lost tail."""
        if ack.last_seq is None or (ack.log_id is not None and ack.log_id != self.log.log_id):
            return
        self.log.set_hub_ack(ack.last_seq, ack.last_chain)
        head, _ = self.log.head()
        if ack.last_seq > head:
            raise HubRefused(200, f"the hub holds this log up to seq {ack.last_seq} but the device's log ends at "
                                  f"{head}: rows were removed from the device")
        if ack.gaps:
            log.warning("hub reports missing seq ranges of this log: %s", ack.gaps[:5])
