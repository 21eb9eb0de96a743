"""Visit rows built from real decisions of the real checker: the right fields, and no names on disk."""

from __future__ import annotations

import json
import time

import pytest

from keys.keyfile import load_public_key
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.checker import Checker
from scanner.clock import FixedClock
from scanner.demo.world import build_demo_world
from scanner.policy import load_profile
from scanner.storage.visitlog import VisitLog, VisitRecord


@pytest.fixture(scope="module")
def world_checker(tmp_path_factory):
    world = build_demo_world(tmp_path_factory.mktemp("world"), int(time.time()))
    trust = TrustStore.from_file(world.trust_list_path, [load_public_key(world.anchor_path)])
    status = StatusStore.open(":memory:")
    for p in world.status_list_paths:
        status.apply(p.read_bytes(), trust)
    return world, Checker(trust, status, load_profile("pharmacy"), clock=FixedClock(world.now))


def test_rows_from_decisions_carry_the_decision_and_no_names(tmp_path, world_checker):
    world, checker = world_checker
    log = VisitLog(tmp_path / "visits.sqlite")
    for name, sample in world.samples.items():
        decision = checker.check(sample.payload)
        rec = VisitRecord.from_decision(decision, device_id="dev-1", checkpoint_id="pharmacy-3",
                                        clock_trusted=True, latency_ms=4.6, at=world.now,
                                        extra={"drug_categories": ["antipyretic"]})
        log.append(rec)
        row = next(r for r in log.rows() if r["visit_id"] == rec.visit_id)
        assert row["verdict"] == sample.expect_verdict, name
        assert row["status"] == sample.expect_status, name
        assert row["admit"] == decision.admit and row["tone"] == str(decision.tone)
        assert row["profile"] == "pharmacy" and row["latency_ms"] == 5 and row["ts_ms"] == world.now * 1000
        assert row["guardian"] == (name == "guardian")
        if decision.result.code_id is not None:
            assert row["code_id"] == decision.result.code_id.hex()
            assert row["issuer"] == decision.result.issuer
        if decision.result.subject is not None:  # an EU DCC has a code id (its UCI's hash), no subject
            assert row["subject"] == decision.result.subject.hex()
        assert row["trust_list_version"] == decision.result.trust_list_version
    assert log.verify().ok and log.pending_count() == len(world.samples)
    log.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("visits.sqlite"))
    names = [checker.check(s.payload).result.name for s in world.samples.values()]
    names = [n for n in names if n]
    assert names, "the samples carry masked names"
    for n in names:
        assert n.encode("utf-8") not in raw and json.dumps(n).encode() not in raw
