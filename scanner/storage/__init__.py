"""The device's durable records in the data directory (docs/architecture.md lists every file).

    visitlog.py   VisitLog (visits.sqlite: WAL, synchronous=FULL, visit and outbox row in one
                  transaction, retention, storage cap) and VisitRecord
    chain.py      the visit row's fields (CHAIN_FIELDS, ROW_FIELDS), canonical bytes and hash chain,
                  shared with the hub; schema migrations, immediate_transaction, venue extra fields
    syncstate.py  the file contract between the sync agent and the kiosk: sync-status.json, sync-request
"""
