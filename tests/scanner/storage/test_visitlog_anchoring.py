"""Attacks on the visit log that a hash chain alone misses, caught by signed checkpoints and the hub's ack."""

from __future__ import annotations

import sqlite3
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from scanner.storage.chain import chain_hash, checkpoint_message, new_visit_id, sign_checkpoint
from scanner.storage.visitlog import VisitLog, VisitRecord

DEVICE = "dev-1"


def rec(i: int) -> VisitRecord:
    now = time.time()
    return VisitRecord(visit_id=new_visit_id(now), ts_ms=int(now * 1000) + i, device_id=DEVICE,
                       checkpoint_id="gate-1", profile="transport", clock_trusted=True, verdict="ok",
                       admit=True, tone="pass", latency_ms=3)


@pytest.fixture
def key():
    return ec.generate_private_key(ec.SECP256R1())


def signed_log(path, key, n=30) -> VisitLog:
    log = VisitLog(path)
    for i in range(n):
        log.append(rec(i))
    seq, chain = log.head()
    log.add_checkpoint(seq, chain, sign_checkpoint(key, checkpoint_message(DEVICE, log.log_id, seq, chain)))
    return log


def raw(path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_each_log_has_its_own_id(tmp_path) -> None:
    a, b = VisitLog(tmp_path / "a.sqlite"), VisitLog(tmp_path / "b.sqlite")
    assert len(a.log_id) == 32 and int(a.log_id, 16) >= 0 and a.log_id != b.log_id
    a.close()
    assert VisitLog(tmp_path / "a.sqlite").log_id == a.log_id


def test_intact_signed_log_verifies(tmp_path, key) -> None:
    log = signed_log(tmp_path / "v.sqlite", key)
    report = log.verify(key.public_key(), DEVICE)
    assert report.ok and report.anchored_seq == 30


def test_deleting_the_last_rows_is_detected(tmp_path, key) -> None:
    log = signed_log(tmp_path / "v.sqlite", key)
    with raw(log.path) as c:
        c.execute("DELETE FROM outbox WHERE seq > 25")
        c.execute("DELETE FROM visits WHERE seq > 25")
    report = log.verify(key.public_key(), DEVICE)
    assert not report.ok and "tail cut" in (report.problem or "") and report.bad_seq == 26


def test_editing_a_row_and_recomputing_the_chain_is_detected(tmp_path, key) -> None:
    log = signed_log(tmp_path / "v.sqlite", key)
    with raw(log.path) as c:
        c.row_factory = sqlite3.Row
        c.execute("UPDATE visits SET verdict = 'revoked', admit = 0 WHERE seq = 10")
        prev = c.execute("SELECT chain FROM visits WHERE seq = 9").fetchone()[0]
        for r in log.rows():
            if r["seq"] < 10:
                continue
            new = chain_hash(prev, r)
            c.execute("UPDATE visits SET prev_chain = ?, chain = ? WHERE seq = ?", (prev, new, r["seq"]))
            prev = new
    report = log.verify(key.public_key(), DEVICE)
    assert not report.ok and report.bad_seq == 30 and "recomputed" in (report.problem or "")


def test_deleting_the_first_rows_and_moving_the_anchor_is_detected(tmp_path, key) -> None:
    log = signed_log(tmp_path / "v.sqlite", key, n=10)
    # A checkpoint at seq 5, then the attacker drops rows 1..5 and moves the anchor there, rewriting
    # everything after so the chain looks whole.
    with raw(log.path) as c:
        chain5 = c.execute("SELECT chain FROM visits WHERE seq = 5").fetchone()[0]
    log.add_checkpoint(5, chain5, sign_checkpoint(key, checkpoint_message(DEVICE, log.log_id, 5, chain5)))
    with raw(log.path) as c:
        c.execute("DELETE FROM outbox WHERE seq <= 5")
        c.execute("DELETE FROM visits WHERE seq <= 5")
        c.execute("UPDATE meta SET value = ? WHERE key = 'chain_anchor'", ('[5, "' + "ab" * 32 + '"]',))
    report = log.verify(key.public_key(), DEVICE)
    assert not report.ok and "anchor" in (report.problem or "")


def test_wiping_every_row_is_detected(tmp_path, key) -> None:
    log = signed_log(tmp_path / "v.sqlite", key)
    with raw(log.path) as c:
        c.execute("DELETE FROM outbox")
        c.execute("DELETE FROM visits")
    report = log.verify(key.public_key(), DEVICE)
    assert not report.ok and "missing" in (report.problem or "")


def test_hub_ack_beyond_the_tail_is_detected_without_checkpoints(tmp_path) -> None:
    log = VisitLog(tmp_path / "v.sqlite")
    for i in range(10):
        log.append(rec(i))
    seq, chain = log.head()
    log.set_hub_ack(seq, chain)
    with raw(log.path) as c:
        c.execute("DELETE FROM outbox WHERE seq > 7")
        c.execute("DELETE FROM visits WHERE seq > 7")
    report = log.verify()
    assert not report.ok and "hub's acknowledgement" in (report.problem or "")


def test_deleting_outbox_rows_is_detected(tmp_path, key) -> None:
    log = signed_log(tmp_path / "v.sqlite", key)
    with raw(log.path) as c:
        c.execute("DELETE FROM outbox WHERE seq BETWEEN 3 AND 8")
    report = log.verify(key.public_key(), DEVICE)
    assert not report.ok and report.bad_seq == 3 and "outbox" in (report.problem or "")


def test_a_forged_checkpoint_is_detected(tmp_path, key) -> None:
    log = signed_log(tmp_path / "v.sqlite", key)
    other = ec.generate_private_key(ec.SECP256R1())
    seq, chain = log.head()
    log.add_checkpoint(seq, chain, sign_checkpoint(other, checkpoint_message(DEVICE, log.log_id, seq, chain)))
    report = log.verify(key.public_key(), DEVICE)
    assert not report.ok and "signature" in (report.problem or "")
    assert log.verify().ok  # without the device key only the hashes are compared


def test_checkpoint_message_is_the_contract() -> None:
    assert checkpoint_message("d", "ab" * 16, 7, "cd" * 32) == \
        b"checkpoint-log-v1\nd\n" + b"ab" * 16 + b"\n7\n" + b"cd" * 32
