"""The regional hub: devices upload visits and poll for lists; operators watch the fleet. FastAPI, SQLite or PostgreSQL.

    app.py        the HTTP API, assembled; round.py (`POST /v1/round`, roundcache.py shares its reads) and
                  visits.py (`POST /v1/visits`; uploadcodec.py decodes a batch, ingest.py stores it)
    limits.py     what one request may make the hub hold
    server.py     uvicorn on TLS, requiring a device certificate
    db.py         one small interface over SQLite and PostgreSQL; schema.py its numbered migrations
    store.py      the store opened and migrated: published lists, visit queries, gaps, retention
    registry.py   which device certificates may talk to the hub
    devicehealth.py, healthbuffer.py, fleetstate.py  device health: stored, written behind, judged
    traffic.py    hourly visit counts for the fleet page
    metrics.py    Prometheus metrics
    publish.py    reading the files given to `checkpoint hub publish-…`
    operator/     the operator's pages (Jinja2, server-rendered)
    cli.py        `checkpoint hub …`
"""
