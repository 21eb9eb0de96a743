"""The visit log's SQLite schema, as numbered migrations (`keys.durable.migrate` applies them).

`visits` holds one row per decision (the fields of `scanner.storage.chain.ROW_FIELDS`, plus when it
was synced), `outbox` one row per visit still to upload (deleted in the transaction that records the
hub's acknowledgement), `meta` the chain anchor that moves forward when retention purges old rows, the
log's `log_id` and the hub's last acknowledgement, `checkpoints` the device-signed heads of the chain;
`salvages` and `recovered` the visits read from a damaged log set aside (`scanner/storage/recovered.py`).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable

from scanner.storage.chain import GENESIS


def _m1(conn: sqlite3.Connection) -> None:
    conn.execute("""
        CREATE TABLE visits (
            seq INTEGER PRIMARY KEY,
            visit_id TEXT NOT NULL UNIQUE,
            ts_ms INTEGER NOT NULL,
            device_id TEXT NOT NULL,
            checkpoint_id TEXT NOT NULL,
            profile TEXT NOT NULL,
            clock_trusted INTEGER NOT NULL,
            format TEXT,
            issuer TEXT,
            code_id TEXT,
            subject TEXT,
            code_type TEXT,
            verdict TEXT NOT NULL,
            status TEXT,
            admit INTEGER NOT NULL,
            tone TEXT NOT NULL,
            guardian INTEGER NOT NULL,
            trust_list_version INTEGER,
            status_list_version INTEGER,
            latency_ms INTEGER NOT NULL,
            extra TEXT NOT NULL,
            prev_chain TEXT NOT NULL,
            chain TEXT NOT NULL,
            synced_at_ms INTEGER
        )""")
    conn.execute("CREATE INDEX visits_ts ON visits (ts_ms)")
    # One row per visit still to upload; deleted in the transaction that records the hub's ack.
    conn.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY REFERENCES visits (seq), "
                 "visit_id TEXT NOT NULL)")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO meta (key, value) VALUES ('chain_anchor', ?)", (json.dumps([0, GENESIS]),))


def _m2(conn: sqlite3.Connection) -> None:
    # The log's identity; an existing log gets one too (its rows keep their seq).
    conn.execute("INSERT INTO meta (key, value) VALUES ('log_id', ?)", (secrets.token_hex(16),))
    # Signed heads of the chain (see `scanner.storage.chain`, "Log identity and signed checkpoints").
    conn.execute("CREATE TABLE checkpoints (seq INTEGER PRIMARY KEY, chain TEXT NOT NULL, "
                 "signature TEXT NOT NULL, signed_at_ms INTEGER NOT NULL)")


def _m3(conn: sqlite3.Connection) -> None:
    # Who decided, whether the gate opened, the row completed, the profile outcome (null on older rows).
    for column in ("decided_by", "gate", "ref_visit", "outcome"):
        conn.execute(f"ALTER TABLE visits ADD COLUMN {column} TEXT")


def _m4(conn: sqlite3.Connection) -> None:
    # Salvages of damaged logs (`scanner.storage.recovered`): what each read, until an operator acknowledges it,
    # and the visits read that the hub had not acknowledged, verbatim, under their own log's id and seq.
    conn.execute("CREATE TABLE salvages (id INTEGER PRIMARY KEY, source TEXT NOT NULL, log_id TEXT, "
                 "at_ms INTEGER NOT NULL, recovered INTEGER NOT NULL, already_synced INTEGER NOT NULL, "
                 "kept INTEGER NOT NULL, altered INTEGER NOT NULL, unreadable INTEGER NOT NULL, "
                 "missing_pages INTEGER NOT NULL, "
                 "complete INTEGER NOT NULL, problem TEXT, acknowledged_ms INTEGER)")
    conn.execute("CREATE TABLE recovered (log_id TEXT NOT NULL, seq INTEGER NOT NULL, visit_id TEXT NOT NULL, "
                 "row TEXT NOT NULL, salvage INTEGER NOT NULL REFERENCES salvages (id), synced_at_ms INTEGER, "
                 "PRIMARY KEY (log_id, seq))")
    conn.execute("CREATE INDEX recovered_pending ON recovered (synced_at_ms, log_id, seq)")


# Append-only: migration N brings a database from user_version N-1 to N (`keys.durable.migrate`).
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m1, _m2, _m3, _m4]
