"""The hub's schema as numbered migrations, the same steps for SQLite and PostgreSQL where SQL allows.

The list is append-only: a new table, column or index is a new `Step` at the end, and a step, once
released, is never edited (a database migrated by it would not get the change). The visit columns are
derived from the visit row's one declaration, `scanner.storage.chain.VISIT_FIELDS` (`visit_columns`); a
field added there needs a step here that adds its column (`add_visit_columns`), and
`HubStore` refuses to start on a table that lacks one (`missing_visit_columns`).

Visits on PostgreSQL are partitioned by day of `ts_ms` (one table `visits_pYYYYMMDD` per UTC day,
created on demand by the store, dropped by retention), with no index but the primary key (a device's time
range is its day partitions' primary-key range for the device); the primary key must then contain `ts_ms`, so
uniqueness of (device, log id, seq) across partitions is kept by the per-log lock of the upload
transaction (`sync/hub/store.py`), which reads before it writes.
"""

from __future__ import annotations

from sync.hub import traffic
from sync.hub.db import POSTGRESQL, SQLITE, Step, Tx

# Columns of the visits table beyond the row's own fields.
STORE_ONLY = ("log_id", "prev_chain", "chain", "chain_ok", "chain_problem", "received_ms")


def _sql_type(name: str) -> tuple[str, bool]:
    """(SQL type, nullable) of a visit column, from `VISIT_FIELDS` where the field is declared."""
    from scanner.storage.chain import VISIT_FIELDS

    fixed = {"log_id": ("TEXT", False), "prev_chain": ("TEXT", False), "chain": ("TEXT", False),
             "chain_ok": ("SMALLINT", False), "chain_problem": ("TEXT", True), "received_ms": ("BIGINT", False),
             "extra": ("TEXT", False)}
    if name in fixed:
        return fixed[name]
    spec = VISIT_FIELDS.get(name, (str, None))
    nullable = isinstance(spec, tuple)
    base = spec[0] if isinstance(spec, tuple) else spec
    return ("SMALLINT" if base is bool else "BIGINT" if base is int else "TEXT"), nullable


def visit_columns(names: tuple[str, ...]) -> str:
    out = []
    for n in names:
        typ, nullable = _sql_type(n)
        out.append(f"{n} {typ}{'' if nullable else ' NOT NULL'}")
    return ", ".join(out)


# The visit columns as migration 3 created them (frozen: later fields arrive by later steps).
V2_COLUMNS = ("device_id", "log_id", "seq", "visit_id", "ts_ms", "checkpoint_id", "profile", "clock_trusted",
              "format", "issuer", "code_id", "subject", "code_type", "verdict", "status", "admit", "tone",
              "guardian", "trust_list_version", "status_list_version", "latency_ms", "extra", "prev_chain",
              "chain", "chain_ok", "chain_problem", "received_ms")
_V1_COPY = ", ".join("''" if c == "log_id" else c for c in V2_COLUMNS)


def add_visit_columns(*names: str) -> dict[str, str]:
    """A step adding nullable visit columns for fields newly declared in `VISIT_FIELDS`."""
    def ddl(n: str) -> str:
        typ, _ = _sql_type(n)
        return f"ALTER TABLE visits ADD COLUMN {n} {typ}"
    sql = ";".join(ddl(n) for n in names)
    return {SQLITE: sql, POSTGRESQL: sql}


_COMMON_V2 = """
CREATE TABLE logs (
    device_id TEXT NOT NULL, log_id TEXT NOT NULL, last_seq BIGINT NOT NULL, last_chain TEXT NOT NULL,
    contiguous_seq BIGINT NOT NULL, signed_seq BIGINT, signed_chain TEXT, signed_ms BIGINT,
    first_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, log_id));
CREATE TABLE visit_conflicts (
    device_id TEXT NOT NULL, log_id TEXT NOT NULL, seq BIGINT NOT NULL, chain TEXT NOT NULL,
    visit_id TEXT NOT NULL, held_chain TEXT NOT NULL, row_json TEXT NOT NULL, received_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, log_id, seq, chain));
CREATE TABLE visit_refusals (
    device_id TEXT NOT NULL, log_id TEXT NOT NULL, seq BIGINT NOT NULL, visit_id TEXT NOT NULL,
    ts_ms BIGINT NOT NULL, reason TEXT NOT NULL, prev_chain TEXT NOT NULL, chain TEXT NOT NULL,
    row_json TEXT NOT NULL, received_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, log_id, seq));
CREATE INDEX visit_refusals_received ON visit_refusals (received_ms);
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY, state TEXT NOT NULL, site TEXT, checkpoints TEXT, enrolled_ms BIGINT NOT NULL,
    revoked_ms BIGINT, revoked_reason TEXT, last_seen_ms BIGINT);
CREATE TABLE device_certs (
    device_id TEXT NOT NULL, serial TEXT NOT NULL, not_after BIGINT, added_ms BIGINT NOT NULL, revoked_ms BIGINT,
    PRIMARY KEY (device_id, serial));
CREATE TABLE site_admissions (
    site TEXT NOT NULL, ts_ms BIGINT NOT NULL, code_id TEXT NOT NULL, device_id TEXT NOT NULL);
CREATE INDEX site_admissions_site_ts ON site_admissions (site, ts_ms);
CREATE INDEX published_latest ON published (kind, issuer, published_ms)
"""

def _judged_columns(tx: Tx) -> None:
    import json

    from sync.hub.devicehealth import JUDGED_COLUMNS, judged_columns

    tx.execute("ALTER TABLE device_health ADD COLUMN fixed_problems TEXT NOT NULL DEFAULT ''")
    for name in JUDGED_COLUMNS[1:]:
        tx.execute(f"ALTER TABLE device_health ADD COLUMN {name} BIGINT")
    for device_id, record in tx.execute("SELECT device_id, record FROM device_health"):
        tx.execute(f"UPDATE device_health SET {', '.join(f'{c} = ?' for c in JUDGED_COLUMNS)} WHERE device_id = ?",
                   (*judged_columns(json.loads(record)), device_id))


MIGRATIONS: list[Step] = [
    Step(1, "visits and published lists", """
        CREATE TABLE schema_version (version BIGINT NOT NULL);
        CREATE TABLE visits (
            device_id TEXT NOT NULL, seq BIGINT NOT NULL, visit_id TEXT NOT NULL UNIQUE, ts_ms BIGINT NOT NULL,
            checkpoint_id TEXT NOT NULL, profile TEXT NOT NULL, clock_trusted BIGINT NOT NULL, format TEXT,
            issuer TEXT, code_id TEXT, subject TEXT, code_type TEXT, verdict TEXT NOT NULL, status TEXT,
            admit BIGINT NOT NULL, tone TEXT NOT NULL, guardian BIGINT NOT NULL, trust_list_version BIGINT,
            status_list_version BIGINT, latency_ms BIGINT NOT NULL, extra TEXT NOT NULL,
            prev_chain TEXT NOT NULL, chain TEXT NOT NULL, chain_ok BIGINT NOT NULL, chain_problem TEXT,
            received_ms BIGINT NOT NULL,
            PRIMARY KEY (device_id, seq));
        CREATE INDEX visits_device_ts ON visits (device_id, ts_ms);
        CREATE TABLE published (
            kind TEXT NOT NULL, issuer TEXT NOT NULL, version BIGINT NOT NULL, base BIGINT,
            etag TEXT NOT NULL, body TEXT NOT NULL, published_ms BIGINT NOT NULL,
            PRIMARY KEY (kind, issuer, version));
        INSERT INTO schema_version (version) VALUES (1)"""),
    Step(2, "device health: the latest record per device, and a thinned recent history", """
        CREATE TABLE device_health (
            device_id TEXT PRIMARY KEY, received_ms BIGINT NOT NULL, record TEXT NOT NULL);
        CREATE TABLE device_health_history (
            device_id TEXT NOT NULL, received_ms BIGINT NOT NULL, record TEXT NOT NULL,
            PRIMARY KEY (device_id, received_ms))"""),
    Step(3, "visits keyed by (device, log id, seq), partitioned by day on PostgreSQL; logs, conflicts, "
            "refusals, device registry, site admissions", {
        SQLITE: f"""
            CREATE TABLE visits_v2 ({visit_columns(V2_COLUMNS)}, PRIMARY KEY (device_id, log_id, seq));
            INSERT INTO visits_v2 ({', '.join(V2_COLUMNS)}) SELECT {_V1_COPY} FROM visits;
            DROP TABLE visits;
            ALTER TABLE visits_v2 RENAME TO visits;
            CREATE INDEX visits_device_ts ON visits (device_id, ts_ms);
            CREATE INDEX visits_ts ON visits (ts_ms);
            {_COMMON_V2}""",
        POSTGRESQL: f"""
            DROP TABLE visits;
            CREATE TABLE visits ({visit_columns(V2_COLUMNS)}, PRIMARY KEY (device_id, log_id, seq, ts_ms))
                PARTITION BY RANGE (ts_ms);
            CREATE INDEX visits_device_ts ON visits (device_id, ts_ms);
            {_COMMON_V2}"""}),
    Step(4, "visit fields decided_by, gate, ref_visit, outcome", add_visit_columns(
        "decided_by", "gate", "ref_visit", "outcome")),
    Step(5, "hourly traffic counts per device and checkpoint (the fleet page's chart)",
         f"{traffic.TABLE};\n{traffic.BACKFILL}"),
    Step(6, "each latest health record's judged columns (device states judged in SQL)", _judged_columns),
    Step(7, "site admissions keep the hub's time of receipt (rounds send a device only what arrived since)",
         "ALTER TABLE site_admissions ADD COLUMN received_ms BIGINT;"
         "UPDATE site_admissions SET received_ms = ts_ms;"
         "CREATE INDEX site_admissions_site_received ON site_admissions (site, received_ms)"),
    # Every stored visit paid for this index; on PostgreSQL a time range already picks the day partitions
    # and, within each, the primary key (device_id, log_id, seq, ts_ms) holds a device's rows together.
    Step(8, "no (device, time) index on PostgreSQL's day partitions: the partition and the primary key "
            "serve a device's time range", {SQLITE: "", POSTGRESQL: "DROP INDEX IF EXISTS visits_device_ts"}),
    Step(9, "logs: when a device first sent rows of the log recovered from its damaged file",
         "ALTER TABLE logs ADD COLUMN recovered_ms BIGINT"),
]


def visit_table_columns(tx: Tx) -> set[str]:
    if tx.dialect == SQLITE:
        return {str(r[1]) for r in tx.execute("PRAGMA table_info(visits)")}
    return {str(r[0]) for r in tx.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = 'visits'")}


def missing_visit_columns(tx: Tx) -> list[str]:
    """Fields of `VISIT_FIELDS` (and the hub's own columns) the visits table lacks."""
    from scanner.storage.chain import ROW_FIELDS

    have = visit_table_columns(tx)
    return [n for n in (*ROW_FIELDS, *STORE_ONLY) if n not in have]
