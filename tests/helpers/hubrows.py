"""Visit rows as a device's log would upload them, chained with the real hash chain, made fast.

`chain_rows` builds rows straight from `scanner.storage.chain` (the same canonical bytes and hash the
device computes), without a device database, so tests and `bench/hub_ingest.py` can make millions.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from scanner.storage.chain import GENESIS, chain_hash, new_visit_id


def new_log_id() -> str:
    return secrets.token_hex(16)


def chain_rows(device_id: str, n: int, *, start_seq: int = 1, prev: str = GENESIS, ts_ms: int | None = None,
               checkpoint_id: str = "gate-1", **fields: Any) -> list[dict[str, Any]]:
    """`n` rows of one log from `start_seq`, linked from `prev`; `fields` override row fields."""
    base = int(time.time() * 1000) if ts_ms is None else ts_ms
    rows = []
    for i in range(n):
        seq = start_seq + i
        row: dict[str, Any] = {
            "seq": seq, "visit_id": new_visit_id((base + i) / 1000), "ts_ms": base + i, "device_id": device_id,
            "checkpoint_id": checkpoint_id, "profile": "transport", "clock_trusted": True, "format": "hcc1",
            "issuer": "CN-ZJ", "code_id": f"{seq:032x}", "subject": f"{seq * 7:032x}", "code_type": "personal",
            "verdict": "ok", "status": "green", "admit": True, "tone": "pass", "guardian": False,
            "trust_list_version": 7, "status_list_version": 101, "latency_ms": 12 + i % 9, "extra": {}}
        row.update(fields)
        row["prev_chain"] = prev
        row["chain"] = prev = chain_hash(prev, row)
        rows.append(row)
    return rows
