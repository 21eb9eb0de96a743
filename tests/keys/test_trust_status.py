"""Trust store (rollback, tamper, persistence) and status store (snapshots, deltas, revocation)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from keys.errors import RollbackError, StatusListError, TrustListError
from keys.jws import b64url_decode, b64url_encode
from keys.keyfile import generate_key
from keys.publishing import KeyEntry, sign_status_list, sign_trust_list
from keys.statuslist import StatusListDoc
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore

NOW = 1_800_000_000


@pytest.fixture()
def pki():
    root = generate_key("ES256")
    zj = generate_key("ES256")
    sh = generate_key("EdDSA")
    entries = [KeyEntry(zj.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - 10**6, not_after=NOW + 10**6),
               KeyEntry(sh.public_key(), "CN-SH", "上海", "Shanghai", not_before=NOW - 10**6, not_after=NOW + 10**6)]

    def tl(version: int, signer=root):
        return sign_trust_list(signer, entries, version=version, issued_at=NOW, next_update=NOW + 3600)

    return root, zj, sh, tl


def test_trust_list_indexes_keys_and_names(pki) -> None:
    root, _, _, tl = pki
    store = TrustStore.from_document(tl(1), [root.public_key()])
    assert store.version == 1 and store.issuers() == ["CN-SH", "CN-ZJ"]
    assert store.issuer_name("CN-SH").zh == "上海"
    assert not store.is_stale(NOW + 3600) and store.is_stale(NOW + 3601)


def test_tampered_and_rogue_trust_lists_are_refused(pki) -> None:
    root, _, _, tl = pki
    doc = tl(1)
    payload = json.loads(b64url_decode(doc["payload"]))
    payload["version"] = 99
    doc["payload"] = b64url_encode(json.dumps(payload).encode())
    with pytest.raises(TrustListError, match="signature"):
        TrustStore.from_document(doc, [root.public_key()])
    with pytest.raises(TrustListError, match="signature"):
        TrustStore.from_document(tl(1, signer=generate_key("ES256")), [root.public_key()])
    with pytest.raises(TrustListError, match=r"not JSON|JWS"):
        TrustStore.from_document(b"{not json", [root.public_key()])


def test_any_pinned_anchor_may_sign_for_rotation(pki) -> None:
    root, _, _, tl = pki
    new_root = generate_key("EdDSA")
    assert TrustStore.from_document(tl(2, new_root), [root.public_key(), new_root.public_key()]).version == 2


def test_persisted_store_refuses_rollback_and_keeps_cached_list(pki, tmp_path) -> None:
    root, _, _, tl = pki
    store = TrustStore.open(tmp_path, [root.public_key()])
    assert store.current is None
    store.update(tl(5))
    with pytest.raises(RollbackError):
        store.update(tl(5))
    with pytest.raises(RollbackError):
        store.update(tl(4))
    with pytest.raises(TrustListError):
        store.update(tl(9, signer=generate_key("ES256")))
    assert store.version == 5
    reopened = TrustStore.open(tmp_path, [root.public_key()])
    assert reopened.version == 5
    reopened.update(tl(6))
    assert TrustStore.open(tmp_path, [root.public_key()]).version == 6
    assert not list(tmp_path.glob("*.tmp"))


def test_status_store_snapshot_delta_and_revocation(pki, tmp_path) -> None:
    root, zj, _, tl = pki
    trust = TrustStore.from_document(tl(1), [root.public_key()])
    store = StatusStore.open(tmp_path / "status.sqlite")
    a, b, c = os.urandom(16), os.urandom(16), os.urandom(16)
    cti = os.urandom(16)

    def sl(version, base=None, subjects=(), revoked=(), signer=zj, issuer="CN-ZJ"):
        return sign_status_list(signer, issuer=issuer, version=version, base=base, issued_at=NOW,
                                next_update=NOW + 60, subjects=subjects, revoked=revoked)

    store.apply(sl(10, subjects=[(a, 2, NOW), (b, 1, NOW), (c, 0, NOW)], revoked=[cti]), trust)
    # A snapshot's green entry is an entry (a personal code older than it turns green); a delta's removes one.
    assert store.lookup("CN-ZJ", a) == (2, NOW) and store.lookup("CN-ZJ", c) == (0, NOW)
    assert store.is_revoked("CN-ZJ", cti) and not store.is_revoked("CN-SH", cti)
    store.apply(sl(11, base=10, subjects=[(a, 0, NOW + 5), (c, 2, NOW + 5)]), trust)
    assert store.lookup("CN-ZJ", a) is None and store.lookup("CN-ZJ", c) == (2, NOW + 5)
    assert store.is_revoked("CN-ZJ", cti), "a delta never drops revoked code ids"
    with pytest.raises(StatusListError, match="base"):
        store.apply(sl(13, base=12), trust)
    with pytest.raises(StatusListError, match="not newer"):
        store.apply(sl(11), trust)
    with pytest.raises(StatusListError, match="allowed"):
        store.apply(sl(20, issuer="CN-SH"), trust)  # Zhejiang's key signing for Shanghai
    assert store.version("CN-ZJ") == 11
    store.apply(sl(30, subjects=[(b, 2, NOW)]), trust)  # a snapshot replaces everything
    assert store.lookup("CN-ZJ", c) is None and store.lookup("CN-ZJ", b) == (2, NOW)
    assert not store.is_revoked("CN-ZJ", cti)
    info = store.info("CN-ZJ")
    assert info.is_fresh(NOW + 60) and not info.is_fresh(NOW + 61) and info.is_fresh(NOW + 61, grace=1)
    store.close()
    assert StatusStore.open(tmp_path / "status.sqlite").version("CN-ZJ") == 30


def test_tampered_status_list_is_refused_and_store_unchanged(pki) -> None:
    root, zj, _, tl = pki
    trust = TrustStore.from_document(tl(1), [root.public_key()])
    store = StatusStore.open()
    doc = sign_status_list(zj, issuer="CN-ZJ", version=1, issued_at=NOW, next_update=NOW + 60,
                           subjects=[(bytes(16), 2, NOW)])
    doc["signature"] = doc["signature"][::-1]
    with pytest.raises(StatusListError, match="signature"):
        store.apply(doc, trust)
    assert store.info("CN-ZJ") is None


def test_rows_go_in_key_order_yet_a_subject_listed_twice_keeps_its_later_entry() -> None:
    from keys.statuslist import StatusListDoc
    from keys.statusstore import StatusStore

    a, b, c = b"\x03" * 16, b"\x01" * 16, b"\x02" * 16
    store = StatusStore.open(":memory:")
    snap = StatusListDoc(issuer="CN-ZJ", version=1, base=None, issued_at=10, next_update=20,
                         subjects=((a, 2, 5), (b, 1, 5), (a, 1, 6), (c, 2, 7)), revoked=(c, a, c))
    store.apply_verified(snap, now=11)
    assert store.lookup("CN-ZJ", a) == (1, 6) and store.lookup("CN-ZJ", b) == (1, 5)
    assert store.lookup("CN-ZJ", c) == (2, 7) and store.is_revoked("CN-ZJ", a)
    delta = StatusListDoc(issuer="CN-ZJ", version=2, base=1, issued_at=12, next_update=22,
                          subjects=((b, 2, 8), (c, 1, 9), (b, 1, 10)), revoked=())
    store.apply_verified(delta, now=13)
    assert store.lookup("CN-ZJ", b) == (1, 10) and store.lookup("CN-ZJ", c) == (1, 9)
    assert store.count("CN-ZJ") == 3


def test_a_list_written_a_batch_at_a_time_is_the_signed_document(tmp_path: Path) -> None:
    """`write_status_list` streams the very bytes `sign_status_list` makes (ES256 signatures differ per
    signing, so the signed part is compared), and the store reads it back from the file."""
    from keys.keyfile import generate_key
    from keys.publishing import KeyEntry, sign_status_list, sign_trust_list, write_status_list
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore

    root, zj = generate_key("ES256"), generate_key("ES256")
    trust = TrustStore.from_document(sign_trust_list(root, [KeyEntry(zj.public_key(), "CN-ZJ", "浙江", "Zhejiang",
                                                                     not_before=0, not_after=2_000_000_000)],
                                                     version=1, issued_at=100, next_update=10_000),
                                     [root.public_key()])
    subjects = [(bytes([i % 256]) * 16, 1 + i % 2, 50 + i) for i in range(25_000)]
    revoked = [bytes([7]) * 16, bytes([8]) * 16]
    meta = {"issuer": "CN-ZJ", "version": 3, "issued_at": 100, "next_update": 200}
    path = write_status_list(tmp_path / "sl.json", zj, subjects=subjects, revoked=revoked, **meta)
    written = json.loads(path.read_text(encoding="utf-8"))
    expected = sign_status_list(zj, subjects=subjects, revoked=revoked, **meta)
    assert list(written) == ["protected", "payload", "signature"]
    assert (written["protected"], written["payload"]) == (expected["protected"], expected["payload"])
    store = StatusStore.open(tmp_path / "status.sqlite")
    result = store.apply_file(path, trust, now=150)
    assert (result.version, result.subjects, result.revoked) == (3, 25_000, 2)
    last = max(i for i in range(25_000) if i % 256 == 5)  # of a subject listed again and again, the last entry
    assert store.lookup("CN-ZJ", bytes([5]) * 16) == (1 + last % 2, 50 + last)
    assert store.is_revoked("CN-ZJ", bytes([8]) * 16)


class _BreaksHalfway:
    """A list file whose reading fails partway (an SD card giving out, a process being stopped)."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, n: int) -> bytes:
        if self.pos > len(self.data) // 2:
            raise OSError(5, "Input/output error")
        chunk = self.data[self.pos:self.pos + min(n, 4096)]
        self.pos += len(chunk)
        return chunk

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int) -> None:
        self.pos = pos


@pytest.mark.parametrize("signer", ["zj", "sh"])
def test_a_refused_or_broken_list_leaves_the_held_one_whole(pki, tmp_path: Path, signer: str) -> None:
    """Entries are staged while a list is read; nothing of a list that fails its signature, or whose
    reading breaks off, reaches the held list (ES256 hashed as it streams, EdDSA kept whole)."""
    root, zj, sh, tl = pki
    key, issuer = (zj, "CN-ZJ") if signer == "zj" else (sh, "CN-SH")
    trust = TrustStore.from_document(tl(1), [root.public_key()])
    store = StatusStore.open(tmp_path / "status.sqlite")
    held = [(bytes([i]) * 16, 2, NOW - 5) for i in range(1, 4)]
    store.apply(sign_status_list(key, issuer=issuer, version=1, issued_at=NOW, next_update=NOW + 60,
                                 subjects=held), trust, now=NOW)
    new = sign_status_list(key, issuer=issuer, version=2, issued_at=NOW, next_update=NOW + 60,
                           subjects=[(i.to_bytes(16, "big"), 1, NOW) for i in range(10, 3000)])
    forged = dict(new, signature=b64url_encode(b"\x00" * 64))
    with pytest.raises(StatusListError, match="signature does not verify"):
        store.apply(forged, trust, now=NOW)
    with pytest.raises(OSError):
        store.apply_stream(_BreaksHalfway(json.dumps(new).encode()), trust, "broken", now=NOW)  # type: ignore[arg-type]
    assert store.version(issuer) == 1 and store.count(issuer) == 3
    assert store.lookup(issuer, bytes([2]) * 16) == (2, NOW - 5)
    assert store.lookup(issuer, (10).to_bytes(16, "big")) is None
    assert store._conn.execute("SELECT COUNT(*) FROM temp.staged_revoked").fetchone() == (0,)
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith("status.sqlite")]
    store.apply(new, trust, now=NOW)
    assert store.version(issuer) == 2 and store.count(issuer) == 2990


def test_a_list_whose_header_comes_after_its_payload_still_verifies(pki) -> None:
    root, zj, _, tl = pki
    trust = TrustStore.from_document(tl(1), [root.public_key()])
    doc = sign_status_list(zj, issuer="CN-ZJ", version=1, issued_at=NOW, next_update=NOW + 60,
                           subjects=[(b"\x05" * 16, 2, NOW)], revoked=[b"\x06" * 16])
    reordered = json.dumps({"payload": doc["payload"], "signature": doc["signature"], "protected": doc["protected"]})
    store = StatusStore.open(":memory:")
    assert store.apply(reordered, trust, now=NOW).subjects == 1
    assert store.lookup("CN-ZJ", b"\x05" * 16) == (2, NOW) and store.is_revoked("CN-ZJ", b"\x06" * 16)
    tampered = reordered.replace(doc["payload"][:8], doc["payload"][:7] + ("A" if doc["payload"][7] != "A" else "B"))
    with pytest.raises(StatusListError):
        StatusStore.open(":memory:").apply(tampered, trust, now=NOW)


def test_lists_read_from_their_files_hold_what_their_entries_say(tmp_path: Path, monkeypatch) -> None:
    """Entries go packed (`keys.packedrows`) into buckets (`keys.bucketstage`) and from there, in pieces of
    `COUNTING` rows, into SQLite; the store then holds what the entries say in list order: of a subject
    listed twice the later entry (a status 0 one too), s 0 held as an entry in a snapshot and returning a subject
    to green (removing its entry) in a delta."""
    import random

    from keys import bucketstage, statusstore
    from keys.publishing import write_status_list

    monkeypatch.setattr(statusstore, "COUNTING", 97)  # many pieces per bucket, as in a list of 30M entries
    monkeypatch.setattr(bucketstage, "IN_MEMORY", 1000)  # the snapshot to bucket files, the delta too
    root, zj = generate_key("ES256"), generate_key("ES256")
    trust = TrustStore.from_document(sign_trust_list(root, [KeyEntry(zj.public_key(), "CN-ZJ", "浙江", "Zhejiang",
                                                                     not_before=0, not_after=2 * NOW)],
                                                     version=1, issued_at=NOW, next_update=NOW + 60),
                                     [root.public_key()])
    rng = random.Random(5)
    pool = [rng.randbytes(16) for _ in range(3000)]
    since = [NOW, 0, 7, 10**18 - 1]

    def rows(n: int) -> list[tuple[bytes, int, int]]:
        got = [(rng.choice(pool), rng.choice((0, 1, 2)), rng.choice(since)) for _ in range(n)]
        got[n // 2] = (pool[0], 2, 2**63 - 1)  # 19 digits: parsed, between packed runs
        return got

    store = StatusStore.open(tmp_path / "status.sqlite")
    expected: dict[bytes, tuple[int, int]] = {b"\x01" * 16: (2, 1)}  # held before: gone with the snapshot
    store.apply_verified(StatusListDoc(issuer="CN-ZJ", version=1, base=None, issued_at=NOW, next_update=NOW + 60,
                                       subjects=((b"\x01" * 16, 2, 1),), revoked=()), now=NOW)
    for version, base, subjects in [(2, None, rows(30_000)), (3, 2, rows(20_000))]:
        meta = {"issuer": "CN-ZJ", "version": version, "base": base, "issued_at": NOW, "next_update": NOW + 60}
        path = write_status_list(tmp_path / f"sl-{version}.json", zj, subjects=subjects, **meta)
        assert store.apply_file(path, trust, now=NOW).subjects == len(subjects)
        if base is None:
            expected = {}
        for sub, s, sd in subjects:  # in list order: the later entry of a subject wins, a status 0 one too
            if s or base is None:
                expected[sub] = (s, sd)
            else:
                expected.pop(sub, None)
        held = store._conn.execute("SELECT issuer, sub, s, sd FROM subjects ORDER BY sub").fetchall()
        assert held == sorted(("CN-ZJ", sub, s, sd) for sub, (s, sd) in expected.items()) and len(held) > 1000


def test_row_numbers_are_counted_only_as_far_as_the_lists_need(pki, monkeypatch) -> None:
    """SQL cuts rows out of packed bytes by the row numbers in temp.counting: a list of three entries
    needs three of them, a longer one more, up to COUNTING, and every entry still lands."""
    from keys import statusstore

    monkeypatch.setattr(statusstore, "COUNTING", 40)
    root, zj, _, tl = pki
    trust = TrustStore.from_document(tl(1), [root.public_key()])
    store = StatusStore.open(":memory:")

    def counted() -> list[int]:
        return [k for (k,) in store._conn.execute("SELECT k FROM temp.counting ORDER BY k")]

    def apply(version: int, base: int | None, subjects: list[tuple[bytes, int, int]]) -> None:
        store.apply(sign_status_list(zj, issuer="CN-ZJ", version=version, base=base, issued_at=NOW,
                                     next_update=NOW + 60, subjects=subjects, revoked=[]), trust, now=NOW)

    apply(1, None, [(bytes([i]) * 16, 1, NOW) for i in range(3)])
    assert counted() == [0, 1, 2] and store.count("CN-ZJ") == 3
    apply(2, None, [(bytes([i]) * 16, 2, NOW + i) for i in range(5)])
    assert counted() == list(range(5)) and store.lookup("CN-ZJ", b"\x04" * 16) == (2, NOW + 4)
    apply(3, 2, [(bytes([i]) * 16, 0, NOW) for i in range(5)] + [(bytes([i]) * 16, 1, 7) for i in range(10, 110)])
    assert counted() == list(range(40)) and store.count("CN-ZJ") == 100
    assert store.lookup("CN-ZJ", b"\x00" * 16) is None and store.lookup("CN-ZJ", bytes([109]) * 16) == (1, 7)


_DIES_WHILE_MERGING = """
import os, signal, sys
from keys import bucketstage
from keys.keyfile import load_public_key
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore

runs = bucketstage.BucketStage.runs

def dying(self, **options):
    for i, run in enumerate(runs(self, **options)):
        if i == 3:  # a few buckets merged, the transaction open: the power goes
            os.kill(os.getpid(), signal.SIGKILL)
        yield run

bucketstage.BucketStage.runs = dying
bucketstage.IN_MEMORY = 100  # to the bucket files, as a province's list goes
trust = TrustStore.from_file(sys.argv[2], [load_public_key(sys.argv[3])])
StatusStore.open(sys.argv[1]).apply_file(sys.argv[4], trust, now=float(sys.argv[5]))
"""


def test_a_process_killed_while_merging_a_verified_list_leaves_the_held_one_whole(pki, tmp_path: Path) -> None:
    import subprocess
    import sys

    from keys.keyfile import write_public_key
    from keys.publishing import write_status_list

    root, zj, _, tl = pki
    (tmp_path / "trustlist.json").write_text(json.dumps(tl(1)), encoding="utf-8")
    anchor = write_public_key(tmp_path / "root.pem", root.public_key())
    trust = TrustStore.from_document(tl(1), [root.public_key()])
    data = tmp_path / "data"
    store = StatusStore.open(data / "status.sqlite")
    held = [(bytes([i]) * 16, 2, NOW - 5) for i in range(1, 4)]
    store.apply(sign_status_list(zj, issuer="CN-ZJ", version=1, issued_at=NOW, next_update=NOW + 60,
                                 subjects=held), trust, now=NOW)
    new = write_status_list(tmp_path / "sl.json", zj, issuer="CN-ZJ", version=2, issued_at=NOW, next_update=NOW + 60,
                            subjects=[(i.to_bytes(16, "little"), 1, NOW) for i in range(5000)])
    died = subprocess.run([sys.executable, "-c", _DIES_WHILE_MERGING, str(data / "status.sqlite"),
                           str(tmp_path / "trustlist.json"), str(anchor), str(new), str(NOW)],
                          capture_output=True, text=True, check=False)
    assert died.returncode == -9, died.stderr
    assert store.version("CN-ZJ") == 1 and store.count("CN-ZJ") == 3
    assert store.lookup("CN-ZJ", bytes([2]) * 16) == (2, NOW - 5) and store.lookup("CN-ZJ", bytes(16)) is None
    store.close()
    assert sorted(p.name for p in data.iterdir() if not p.name.startswith("status.sqlite")) == []
    again = StatusStore.open(data / "status.sqlite")
    assert (again.version("CN-ZJ"), again.count("CN-ZJ")) == (1, 3)
    assert again.apply_file(new, trust, now=NOW).version == 2 and again.count("CN-ZJ") == 5000
