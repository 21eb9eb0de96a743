"""The network side: the device's sync agent and the regional hub. Built on `scanner` and `keys`, never on `ui`.

    agent.py      the sync agent: a process of its own that uploads the visit log and keeps trust data fresh
    transport.py  its HTTP client: mutual TLS, a deadline on every request, size caps
    contact.py    its contact step: the round with the hub (time, what changed, health, site admissions)
    upload.py     its upload steps: signed checkpoints of the log's head, then the outbox in batches
    lists.py      its list steps: trust list, status lists, DCC revocations, rules and venue profiles
    answers.py    the hub's answers, checked before the agent uses a field
    health.py     the device's health record sent with each round
    errors.py     SyncError and its kinds
    cli.py        `checkpoint sync`
    demo.py       the demo's hub on loopback, with its device CA and agent
    hub/          the reference hub (FastAPI on SQLite or PostgreSQL); see its own map
"""
