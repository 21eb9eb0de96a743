"""The device's durable records in the data directory (docs/architecture.md lists every file).

    datadir.py    DataDir: the name of every file in the data directory, once
    stores.py     open_stores(settings) -> Stores: the one place that opens the trust store, status store
                  and visit log, taking the bootstrap lists from the settings
    visitlog.py   VisitLog (visits.sqlite: WAL, synchronous=FULL, visit and outbox row in one
                  transaction, retention, storage cap)
    visitrecord.py VisitRecord: one visit as logged, built from a Decision, read back from SQLite
    logaudit.py   audit_chain -> ChainReport: the chain walked and held against checkpoints and the hub's ack
    handoff.py    HandOff: the visit log's writer thread (show first, then fsync; at most one visit in flight)
    schema.py     the visit log's SQLite schema as numbered migrations
    chain.py      the visit row declared once (VISIT_FIELDS), its canonical bytes and hash chain, shared
                  with the hub; venue extra fields
    syncstate.py  the file contract between the sync agent and the kiosk: sync-status.json, sync-request

Atomic file writes and the SQLite connection, transaction and migration helpers are `keys.durable`'s.
"""
