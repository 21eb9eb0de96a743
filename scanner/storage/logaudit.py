"""Auditing a visit log: its hash chain walked from the anchor and held against what vouches for it.

Signed checkpoints (the device key's signature over `checkpoint_message`) and the hub's acknowledgement
lie outside the chain, so a cut tail, a recomputed chain or a lost outbox row shows up here;
`checkpoint log verify` reports what this finds.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keys.durable import connect
from scanner.errors import StorageError
from scanner.storage.chain import ROW_FIELDS, chain_hash, checkpoint_message, checkpoint_signature_ok
from scanner.storage.visitrecord import row_from_sql

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows: int
    bad_seq: int | None = None
    problem: str | None = None
    # The highest seq vouched for by a signed checkpoint or the hub's acknowledgement (None: nothing).
    anchored_seq: int | None = None


def audit_chain(path: Path, log_id: str, public_key: CertificatePublicKeyTypes | None = None,
                device_id: str | None = None) -> ChainReport:
    """Walk the whole chain from the anchor; report the first row that does not link or hash.

    Then the chain is held against what lies outside it: each signed checkpoint must match the row
    at its seq (and, given the device's public key and id, carry a valid signature), no checkpoint
    or hub acknowledgement may lie beyond the last row (a cut tail), and every visit not yet
    uploaded must still be in the outbox. Reads one snapshot on its own connection, so appends and
    purges by other processes meanwhile neither block it nor make it report a false break.
    """
    try:
        conn = connect(path, readonly=True, row_factory=True)
    except sqlite3.Error as e:
        raise StorageError(f"visit log {path}: cannot read: {e}") from e
    try:
        conn.execute("BEGIN")
        anchor_seq, prev = json.loads(conn.execute(
            "SELECT value FROM meta WHERE key = 'chain_anchor'").fetchone()[0])
        marks = _vouched(conn, log_id, public_key, device_id)
        if isinstance(marks, ChainReport):
            return marks
        anchored = max(marks, default=None)
        if anchor_seq in marks and marks[anchor_seq][0] != prev:
            return ChainReport(False, 0, anchor_seq, f"the chain anchor differs from the "
                               f"{marks[anchor_seq][1]} at seq {anchor_seq}", anchored)
        expected_seq = anchor_seq + 1
        n = 0
        for r in conn.execute(f"SELECT {', '.join(ROW_FIELDS)} FROM visits ORDER BY seq"):
            row = row_from_sql(r)
            n += 1
            if row["seq"] != expected_seq:
                return ChainReport(False, n, row["seq"], f"row {expected_seq} is missing", anchored)
            if row["prev_chain"] != prev:
                return ChainReport(False, n, row["seq"], "does not link to the previous row", anchored)
            if chain_hash(prev, row) != row["chain"]:
                return ChainReport(False, n, row["seq"], "content does not match its hash (edited)", anchored)
            if row["seq"] in marks and marks[row["seq"]][0] != row["chain"]:
                return ChainReport(False, n, row["seq"], f"chain differs from the {marks[row['seq']][1]} "
                                   "(rows edited and the chain recomputed)", anchored)
            prev = row["chain"]
            expected_seq += 1
        last = expected_seq - 1
        if anchored is not None and anchored > last:
            return ChainReport(False, n, last + 1, f"rows {last + 1} to {anchored} are missing: the "
                               f"{marks[anchored][1]} vouches for seq {anchored} (tail cut)", anchored)
        lost = conn.execute("SELECT MIN(seq) FROM visits WHERE synced_at_ms IS NULL "
                            "AND seq NOT IN (SELECT seq FROM outbox)").fetchone()[0]
        if lost is not None:
            return ChainReport(False, n, lost, "not uploaded yet but missing from the outbox", anchored)
        return ChainReport(True, n, anchored_seq=anchored)
    except sqlite3.Error as e:
        raise StorageError(f"visit log {path}: cannot read: {e}") from e
    finally:
        conn.close()


def _vouched(conn: sqlite3.Connection, log_id: str, public_key: CertificatePublicKeyTypes | None,
             device_id: str | None) -> dict[int, tuple[str, str]] | ChainReport:
    """seq -> (chain, what vouches for it) from signed checkpoints and the hub's ack."""
    marks: dict[int, tuple[str, str]] = {}
    ack = conn.execute("SELECT value FROM meta WHERE key = 'hub_ack'").fetchone()
    if ack is not None:
        seq, chain = json.loads(ack[0])
        if chain:
            marks[int(seq)] = (str(chain), "hub's acknowledgement")
    for seq, chain, signature, _ in conn.execute("SELECT * FROM checkpoints ORDER BY seq"):
        if public_key is not None and device_id is not None and not checkpoint_signature_ok(
                public_key, checkpoint_message(device_id, log_id, seq, chain), signature):
            return ChainReport(False, 0, seq, f"checkpoint at seq {seq}: the device key's signature "
                               "does not verify (forged or altered)")
        marks[seq] = (chain, "signed checkpoint")
    return marks
