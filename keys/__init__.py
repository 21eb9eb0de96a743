"""The trust side: keys, the signed lists a device trusts, and the tooling that issues and publishes them.

Nothing here knows about cameras, screens or the network; `scanner` builds on it. What lives where:

    errors.py       KeysError and its kinds: bad key files, trust lists and status lists
    keyfile.py      key pairs and pinned trust anchors: generate, write, load, key ids
    signing.py      raw ES256/EdDSA signatures as COSE and JWS carry them, verified without DER on the wire
    jws.py          the JWS flattened serialization every signed list uses
    trustlist.py    the national platform's list of every region's keys, and the store that caches it
    dsc.py          EU DCC Document Signer Certificates from the trust list's `dcc` entries
    statuslist.py   an issuer's signed status list (status changes since issuance, revoked codes)
    statusstore.py  the status store in SQLite; its records in statusrecords.py, the EU DCC revocation list's
                    part in dccrevocationstore.py (dccrevocation.py reads the list itself)
    packedrows.py,  a large list's entries checked, packed and staged on disk in sorted buckets, so a
    bucketstage.py, province's list applies in flat memory
    jsonstream.py
    durable.py      the one atomic file write and the one SQLite connection, transaction and migration helper
    frozen.py       `@frozen`: the frozen records' dataclass, made cheaply
    localtext.py    LocalText: a Chinese and English text
    jsontypes.py    names for parsed JSON/CBOR before validation
    hcc1.py, dcc.py the issuer side of HCC1 codes and EU DCCs (`HC1:`)
    publishing.py   signing trust lists and status lists
    deviceca.py     the deployment's device CA for mutual TLS
    cli.py, dcccli.py  `checkpoint keys …`, a thin shell over the above
"""
