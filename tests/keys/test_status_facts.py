"""`StatusStore.facts`, the gate's one query, says what `info`, `is_revoked` and `lookup` say, code after code,
as lists are applied and replaced (it reuses the records of the last code's issuer while its list is the same)."""

from __future__ import annotations

import os

from keys.keyfile import generate_key
from keys.publishing import KeyEntry, sign_status_list, sign_trust_list
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore

NOW = 1_800_000_000


def test_facts_agree_with_the_single_lookups_as_lists_change() -> None:
    root, zj, sh = generate_key("ES256"), generate_key("ES256"), generate_key("ES256")
    entries = [KeyEntry(zj.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - 10**6, not_after=NOW + 10**6),
               KeyEntry(sh.public_key(), "CN-SH", "上海", "Shanghai", not_before=NOW - 10**6, not_after=NOW + 10**6)]
    trust = TrustStore.from_document(sign_trust_list(root, entries, version=1, issued_at=NOW, next_update=NOW + 60),
                                     [root.public_key()])
    store = StatusStore.open()
    subs, ctis = [os.urandom(16) for _ in range(3)], [os.urandom(16) for _ in range(3)]

    def agree() -> None:
        for issuer in ("CN-ZJ", "CN-SH", "CN-XX"):
            for sub in subs:
                for cti in ctis:
                    for _ in range(2):  # the second time from the records the first left
                        f = store.facts(issuer, cti, sub)
                        assert (f.info, f.revoked, f.entry) == (store.info(issuer), store.is_revoked(issuer, cti),
                                                                store.lookup(issuer, sub))
        store.facts("CN-ZJ", ctis[2], subs[2])  # the next call after a change starts from this issuer's records

    agree()
    store.apply(sign_status_list(zj, issuer="CN-ZJ", version=1, issued_at=NOW, next_update=NOW + 60,
                                 subjects=[(subs[0], 2, NOW - 5)], revoked=[ctis[0]]), trust, now=NOW)
    agree()
    # Another issuer's list with the same version and times: only the issuer tells the records apart.
    store.apply(sign_status_list(sh, issuer="CN-SH", version=1, issued_at=NOW, next_update=NOW + 60,
                                 subjects=[(subs[1], 1, NOW - 5)]), trust, now=NOW)
    agree()
    # A newer list of the same issuer: new version and times, other entries.
    store.apply(sign_status_list(zj, issuer="CN-ZJ", version=2, issued_at=NOW + 1, next_update=NOW + 120,
                                 subjects=[(subs[2], 1, NOW)], revoked=[ctis[1]]), trust, now=NOW + 1)
    agree()
    assert store.facts("CN-ZJ", ctis[2], subs[1]).info.version == 2  # type: ignore[union-attr]
