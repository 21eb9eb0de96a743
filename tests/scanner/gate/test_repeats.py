"""Admissions: what a gate remembers of recent admissions, and that it forgets what no window can reach."""

from __future__ import annotations

from scanner.gate.repeats import HORIZON_S, PRUNE_EVERY_S, Admissions


def test_admissions_past_the_horizon_are_forgotten_by_the_status_tick() -> None:
    start = 1_800_000_000.0
    adm = Admissions(device_id="gate-1", now=start)
    for i in range(1000):
        adm.add(f"code-{i}", start + i, visit_id=f"v{i}", subject=f"s{i}")
    later = start + HORIZON_S + 500.5
    adm.add("fresh", later, visit_id="vf")
    assert len(adm) == 2001

    adm.refresh(now=later)  # the tick's prune runs at most every PRUNE_EVERY_S: it is due here
    # admissions 0..500 are past the horizon (at < later - HORIZON_S), with their subject keys
    assert len(adm) == 2001 - 2 * 501
    assert adm.check("code-0", 3600 * 48, later) is None
    assert adm.check("code-999", 3600 * 48, later) is not None
    assert adm.check("fresh", 60, later + 1) is not None


def test_prune_waits_between_runs() -> None:
    start = 1_800_000_000.0
    adm = Admissions(device_id="gate-1", now=start)
    adm.add("old", start, visit_id=None)
    adm.refresh(now=start + PRUNE_EVERY_S - 1)
    assert len(adm) == 1
    assert adm.prune(start + HORIZON_S + 1) == 1
    assert len(adm) == 0
