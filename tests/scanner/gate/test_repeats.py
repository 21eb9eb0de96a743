"""Admissions: what a gate remembers of recent admissions, and that it forgets what no window can reach."""

from __future__ import annotations

import time

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


def test_an_admission_stamped_a_little_ahead_still_counts() -> None:
    """Gates sharing admissions disagree by a few seconds (or NTP stepped this one back): an admission
    stamped ahead of this gate's clock is still a repeat, as far as the verifier's clock skew reaches."""
    from scanner.verify import VerifySettings

    skew = VerifySettings().clock_skew
    now = 1_800_000_000.0
    adm = Admissions(device_id="gate-1", now=now)
    adm.add("ahead", now + 5, visit_id="v1")
    adm.add("at-the-edge", now + skew, visit_id="v2")
    adm.add("far-ahead", now + skew + 1, visit_id="v3")  # a clock that wrong is no admission to trust
    assert adm.check("ahead", 1200, now) is not None
    assert adm.check("at-the-edge", 1200, now) is not None
    assert adm.check("far-ahead", 1200, now) is None
    tight = Admissions(device_id="gate-1", now=now, clock_skew=10)
    tight.add("ahead", now + 11, visit_id="v1")
    assert tight.check("ahead", 1200, now) is None
    # Admitted ahead of this clock but after an "until noon" window's end: nothing to block.
    t = time.localtime(now)
    noon = time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 12, 0, 0, 0, 0, -1))
    adm.add("after-noon", noon + 5, visit_id="v4")
    assert adm.check("after-noon", "12:00", noon) is None
    adm.add("before-noon", noon - 5, visit_id="v5")
    assert adm.check("before-noon", "12:00", noon - 8) is not None
