"""The gate session: one person per decision, anti-passback, the guard's decisions and acknowledgements,
the turnstile pulsed for each admission, counts."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from scanner.clock import FixedClock
from scanner.config import GateSettings
from scanner.demo.session import decide_now, demo_core
from scanner.events import DecisionEvent, RepeatEvent
from scanner.gate.control import Gate
from scanner.gate.grouping import GROUP_REFUSED
from scanner.session import HOLD_S
from tests.helpers.payloads import passenger_codes


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


@pytest.fixture
def make(tmp_path, world, factory):
    made: list[Any] = []

    def build(profile: str = "transport", *, anti_passback: bool = True, sub: str = "g", clock: Any = None,
              **gate: Any) -> Any:
        g = Gate(GateSettings(**{"output": "gpio:17", "pulse_ms": 30, **gate}), pin_factory=factory)
        core, _ = demo_core(tmp_path / f"{sub}{len(made)}", profile=profile, world=world, gate=g,
                            anti_passback=anti_passback, clock=clock)
        made.append(core)
        return core

    yield build
    for c in made:
        c.gate.close()
        c.visit_log.close()


def test_a_stream_of_strangers_never_groups_and_each_opens_the_gate(make, world, factory) -> None:
    core = make()
    pulses: list[Any] = []
    core.gate.add_listener(pulses.append)
    shown = [decide_now(core, p) for p in passenger_codes(world, 12)]
    assert [s.decision.admit for s in shown] == [True] * 12
    assert len({s.group for s in shown}) == 12  # twelve screens, never one family of twelve
    assert [s.gate for s in shown] == ["open"] * 12 and len(pulses) == 12 and all(p.ok for p in pulses)
    rows = list(core.visit_log.rows())
    assert len(rows) == 12 and all(r["gate"] == "open" and r["decided_by"] == "device" for r in rows)
    assert [r["visit_id"] for r in rows] == [s.visit_id for s in shown]
    assert core.counts().admitted == 12
    assert 150 <= shown[0].issued_ago_s < 300  # issued three minutes ago: shown to the guard


def test_codes_in_one_frame_form_a_family_and_so_does_the_family_key(make, world) -> None:
    core = make()
    a, b, c, d, e = passenger_codes(world, 5)
    t = time.monotonic()
    same = [core.handle(DecisionEvent(core.checker.check(p), p, p.encode(), "camera", t, t, 1, 1, 3))
            for p in (a, b, c)]
    assert len({s.group for s in same}) == 1
    core.set_family_held(True)
    fam = [decide_now(core, p) for p in (d, e)]
    core.set_family_held(False)
    assert fam[0].group == fam[1].group != same[0].group
    assert decide_now(core, passenger_codes(world, 1)[0]).group != fam[1].group


def test_same_code_again_is_refused_as_already_admitted_and_counted_once(make, world, factory) -> None:
    core = make()
    code = passenger_codes(world, 1)[0]
    first = decide_now(core, code)
    again = decide_now(core, code)
    assert first.decision.admit and not again.decision.admit
    assert again.repeat is not None and again.repeat.here and again.decision.alert_guard
    hm = time.strftime("%H:%M", time.localtime(again.repeat.admitted_at))
    assert again.decision.headline.en == f"Already admitted at {hm}" and hm in again.decision.headline.zh
    assert again.gate is None and again.decision.outcome == "already_admitted"
    rows = list(core.visit_log.rows())
    assert rows[1]["outcome"] == "already_admitted" and rows[1]["ref_visit"] == first.visit_id
    counts = core.counts()
    assert (counts.admitted, counts.refused, counts.repeats) == (1, 0, 1)


def test_a_refreshed_code_of_the_same_person_is_still_a_repeat(make, world) -> None:
    from keys.hcc1 import CodeClaims, issue_code

    core = make()
    now = int(time.time())
    sub = b"\x07" * 16
    first, refreshed = (issue_code(world.issuers["CN-ZJ"], CodeClaims(iss="CN-ZJ", iat=now - age, exp=now + 86400,
                                                                      name="乘*客", sub=sub)) for age in (120, 10))
    assert decide_now(core, first).decision.admit
    again = decide_now(core, refreshed)  # a new code id, the same holder
    assert not again.decision.admit and again.repeat is not None and again.repeat.here


def test_anti_passback_survives_a_restart_and_the_mall_has_none(make, world, tmp_path) -> None:
    from scanner.gate.repeats import Admissions

    core = make()
    code = passenger_codes(world, 1)[0]
    decide_now(core, code)
    fresh = Admissions(device_id="demo-kiosk", visit_log=core.visit_log)  # read from the visit log (offline)
    cid = core.checker.check(code).result.code_id.hex()
    assert fresh.check(cid, 1200, time.time()) is not None
    assert fresh.check(cid, 1200, time.time() + 1201) is None
    mall = make("mall")
    assert decide_now(mall, code).decision.admit and decide_now(mall, code).decision.admit


def test_admission_at_another_gate_of_the_site_is_flagged(make, world) -> None:
    core = make()
    code = passenger_codes(world, 1)[0]
    cid = core.checker.check(code).result.code_id.hex()
    feed = {"received_at": time.time(), "admissions": [
        {"code_id": cid, "ts_ms": int((time.time() - 60) * 1000), "device_id": "gate-B"}]}
    (core.data_dir / "site-admissions.json").write_text(json.dumps(feed))
    core.snapshot()  # the status tick (once a second) picks up the feed the sync agent wrote
    shown = decide_now(core, code)
    assert not shown.decision.admit and shown.repeat is not None and not shown.repeat.here
    assert "gate-B" in shown.decision.headline.en
    # A broken feed is ignored (each gate alone), never a reason to stop deciding.
    (core.data_dir / "site-admissions.json").write_text("{not json")
    os.utime(core.data_dir / "site-admissions.json", (1, 1))
    core.snapshot()
    other = passenger_codes(world, 1)[0]
    assert decide_now(core, other).decision.admit
    assert core.admissions.feed_problem


def test_school_once_per_morning_until_noon() -> None:
    from scanner.gate.repeats import window_end

    t = time.mktime((2026, 3, 2, 8, 12, 0, 0, 0, -1))
    noon = time.mktime((2026, 3, 2, 12, 0, 0, 0, 0, -1))
    assert window_end("12:00", t) == noon
    assert window_end("12:00", noon + 3600) == noon + 3600  # after noon: no window
    assert window_end(1200, t) == t + 1200


def test_an_anti_passback_window_longer_than_admissions_are_kept_is_named() -> None:
    """Admissions are remembered for a day: a longer window would end there without a word."""
    from scanner.policy import profile_problems

    assert profile_problems({"office": {"profile": {"anti_passback": 86400}}}) == []
    (problem,) = profile_problems({"office": {"profile": {"anti_passback": 7 * 86400}}})
    assert problem.startswith("profiles.office.profile.anti_passback: expected whole seconds 0 to 86400")


def test_guard_admit_and_deny_after_a_manual_check_are_logged(make, world, factory) -> None:
    core = make("transport", clock=FixedClock(time.time(), trusted=False))  # untrusted clock: manual check
    door = factory.pin(17)
    codes = passenger_codes(world, 2)
    check = decide_now(core, codes[0])
    assert check.manual_check and not check.decision.admit and check.gate is None and door.state is False
    admitted = core.guard_decide(check, True)
    assert admitted.decision.admit and admitted.decided_by == "guard" and admitted.gate == "open"
    assert door.state is True
    with pytest.raises(Exception, match="already decided"):
        core.guard_decide(check, False)
    denied = core.guard_decide(decide_now(core, codes[1]), False)
    assert not denied.decision.admit and denied.gate is None
    rows = list(core.visit_log.rows())
    assert [(r["decided_by"], r["admit"], r["gate"]) for r in rows] == [
        ("device", False, None), ("guard", True, "open"), ("device", False, None), ("guard", False, None)]
    assert rows[1]["ref_visit"] == rows[0]["visit_id"] and rows[1]["outcome"] == "clock_untrusted"
    counts = core.counts()
    assert (counts.manual_checks, counts.admitted, counts.refused) == (2, 1, 1)
    snap = core.snapshot()
    assert (snap.manual_today, snap.admitted_today, snap.denied_today) == (2, 1, 1)
    # A green admitted by the device is not the guard's to decide.
    with pytest.raises(Exception, match="manual check"):
        core.guard_decide(decide_now(make(), codes[0]), False)


def test_acknowledging_an_alert_is_deliberate_and_logged(make, world, caplog, tmp_path) -> None:
    from scanner.pin import hash_pin

    core = make()
    red = decide_now(core, world.payloads["red"])
    assert red.decision.alert_guard
    with caplog.at_level(logging.WARNING, logger="checkpoint.ack"):
        assert core.acknowledge(red, method="key").ok
    assert any("alert acknowledged method=key" in r.getMessage() and red.visit_id in r.getMessage()
               for r in caplog.records)
    assert core.counts().acknowledged == 1
    with pytest.raises(Exception, match="method"):
        core.acknowledge(red, method="tap")
    core.ack_pin_hash = hash_pin("2468", ln=10)
    refused = core.acknowledge(red, method="hold")
    assert not refused.ok and refused.message is not None and "PIN" in refused.message.en
    assert not core.acknowledge(red, method="pin", pin="1111").ok
    assert core.acknowledge(red, method="pin", pin="2468").ok and core.counts().acknowledged == 2


def test_a_repeat_within_the_debounce_window_gets_a_note_not_silence(make) -> None:
    core = make()
    note = core.handle_repeat(RepeatEvent("HCC1:X", "serial:/dev/ttyACM0", time.monotonic(), 1.2))
    assert note.sound == "repeat" and note.text.en == "Already checked" and note.text.zh


def test_a_failing_gate_never_blocks_decisions_and_shows_in_the_status(make, world, factory) -> None:
    from gpiozero import DigitalOutputDevice

    squatter = DigitalOutputDevice(17, pin_factory=factory)
    core = make()
    shown = decide_now(core, passenger_codes(world, 1)[0])
    assert shown.decision.admit and shown.gate == "failed" and shown.visit_id
    assert next(iter(core.visit_log.rows()))["gate"] == "failed"
    assert "Gate output failed" in core.snapshot().extra["gate"]
    assert core.health()["gate_output"]["state"] == "failed"
    squatter.close()


def test_pharmacy_visit_is_logged_at_the_decision(make, world) -> None:
    core = make("pharmacy", anti_passback=False)
    shown = [decide_now(core, p) for p in passenger_codes(world, 4)]
    # Four decisions, four rows on disk before any clerk taps anything: a SIGKILL now loses none.
    assert core.visit_log.count() == 4 and all(s.token is not None for s in shown)
    assert core.register_purchase(shown[0].token, ["antiviral"])
    rows = list(core.visit_log.rows())
    assert rows[4]["decided_by"] == "clerk" and rows[4]["ref_visit"] == shown[0].visit_id
    assert core.counts().admitted == 4


def test_a_pharmacy_holds_no_registration_for_a_family_member_held_back(make, world) -> None:
    """A member admitted on its own but held back with its refused family was not let in: the clerk gets
    nothing to register drug categories against (that would add a sale to a visit logged not admitted)."""
    core = make("pharmacy", anti_passback=False)
    green, other = passenger_codes(world, 2)
    events = frame_events(core, [green, world.payloads["red"], other])
    shown = [s for e in events for s in core.take(e)]
    assert [s.held for s in shown] == [True, False, True]
    assert [s.token for s in shown] == [None, None, None]
    assert [r["admit"] for r in core.visit_log.rows()] == [False, False, False]


def test_acknowledging_a_family_alert_names_every_visit_it_silenced(make, world, caplog) -> None:
    """A family screen with a red member: the acknowledgement in the journal says which visits it was for."""
    core = make()
    family = [decide_now(core, world.payloads[name]) for name in ("green", "red")]
    with caplog.at_level(logging.WARNING, logger="checkpoint.ack"):
        assert core.acknowledge(family, method="hold").ok
    (record,) = [r.getMessage() for r in caplog.records if "alert acknowledged" in r.getMessage()]
    assert f"visit={family[0].visit_id},{family[1].visit_id}" in record and "outcome=green,red" in record


def test_pharmacy_passes_nobody_registers_are_not_held_for_ever(make, world) -> None:
    """The headless gate at a pharmacy never registers a sale, and a kiosk drops results that waited too long:
    the passes held for a registration must not pile up for the months a gate runs."""
    clock = FixedClock(time.time())
    core = make("pharmacy", anti_passback=False, clock=clock)
    old = [decide_now(core, p) for p in passenger_codes(world, 3)]
    clock.advance(HOLD_S + 1)
    new = decide_now(core, passenger_codes(world, 1)[0])
    assert not any(core.register_purchase(s.token, ["antiviral"]) for s in old)
    assert core.register_purchase(new.token, ["antiviral"])
    assert [r["decided_by"] for r in core.visit_log.rows()] == ["device"] * 4 + ["clerk"]


def test_a_manual_check_tells_the_guard_the_code_was_admitted_already(make, world) -> None:
    """No hub and no NTP yet: every green code is a manual check. The guard admitted this one a minute ago; shown
    again, the manual check must say so instead of inviting a second Admit of the same person."""
    clock = FixedClock(time.time(), trusted=False)
    core = make("transport", clock=clock)
    code = passenger_codes(world, 1)[0]
    core.guard_decide(decide_now(core, code), True)
    clock.advance(60)
    again = decide_now(core, code)
    assert again.repeat is not None and again.decision.outcome == "already_admitted"
    assert not again.decision.admit and again.decision.alert_guard
    assert again.decision.headline.en.startswith("Already admitted at")
    assert core.counts().admitted == 1


def test_an_eu_certificate_shown_again_is_a_repeat_too(make, world) -> None:
    """An EU DCC has no HCC1 code id: anti-passback knows it by its unique certificate identifier (UCI), so one
    certificate does not let a group through a transport gate one after another."""
    core = make("transport")
    first = decide_now(core, world.payloads["dcc_vaccination"])
    again = decide_now(core, world.payloads["dcc_vaccination"])
    other = decide_now(core, world.payloads["dcc_test"])
    assert first.decision.admit and first.gate == "open"
    assert again.repeat is not None and not again.decision.admit and again.decision.outcome == "already_admitted"
    assert other.decision.admit
    assert core.counts().admitted == 2 and core.counts().repeats == 1


def frame_events(core, payloads: list[str]) -> list[DecisionEvent]:
    """The decisions of one camera frame holding `payloads`, as the pipeline emits them."""
    t = time.monotonic()
    return [DecisionEvent(core.checker.check(p), p, p.encode(), "camera", t, t, 1, 1, len(payloads),
                          member=i, members=len(payloads)) for i, p in enumerate(payloads)]


def test_a_family_with_a_red_member_does_not_open_the_turnstile(make, world, factory) -> None:
    """The screen says the group is stopped, so the turnstile stays shut for every member of it."""
    core = make()
    pin = factory.pin(17)
    actions: list[Any] = []
    core.gate.add_listener(actions.append)
    green, other = passenger_codes(world, 2)
    events = frame_events(core, [green, world.payloads["red"], other])
    assert core.take(events[0]) == [] and core.take(events[1]) == []  # the group's verdict is not known yet
    shown = core.take(events[2])
    assert [s.decision.admit for s in shown] == [True, False, True] and len({s.group for s in shown}) == 1
    assert [s.gate for s in shown] == [None, None, None] and actions == []
    assert [c.state for c in pin.states[1:]] == []  # the relay never switched
    assert [r["gate"] for r in core.visit_log.rows()] == [None, None, None]
    # Held back with the family, the green members are logged as not admitted, with the group's outcome, so
    # neither this gate after a restart nor the site's other gates (the hub's feed) take them as admitted.
    rows = list(core.visit_log.rows())
    assert [(r["admit"], r["outcome"], r["status"]) for r in rows] == [
        (False, GROUP_REFUSED, "green"), (False, "red", "red"), (False, GROUP_REFUSED, "green")]
    assert core.counts().admitted == 0 and core.counts().refused == 3
    from scanner.gate.repeats import Admissions

    restarted = Admissions(device_id="demo-kiosk", visit_log=core.visit_log)
    assert restarted.check(core.checker.check(green).result.code_id.hex(), 1200, time.time()) is None
    assert decide_now(core, green).gate == "open"


def test_an_admitted_family_opens_the_turnstile_for_each_member(make, world, factory) -> None:
    core = make()
    actions: list[Any] = []
    core.gate.add_listener(actions.append)
    events = frame_events(core, passenger_codes(world, 3))
    shown = [s for e in events for s in core.take(e)]
    assert [s.gate for s in shown] == ["open"] * 3
    assert [(a.action, a.ok) for a in actions] == [("open", True)] * 3
    assert [r["gate"] for r in core.visit_log.rows()] == ["open"] * 3
    assert factory.pin(17).states[1].state is True


def test_a_family_cut_short_is_decided_with_the_next_frame_not_lost(make, world) -> None:
    """A frame's family whose last member never comes (the next frame's decision arrives first) is decided on
    its own when that decision comes: every member is shown and logged, none mixed into the next group."""
    core = make()
    first, second, later = passenger_codes(world, 3)
    family = frame_events(core, [first, second])
    assert core.take(family[0]) == []
    (alone,) = frame_events(core, [later])
    shown = core.take(alone)
    assert [s.payload_key for s in shown] == [first, later] and len({s.group for s in shown}) == 2
    assert [r["admit"] for r in core.visit_log.rows()] == [True, True]


def test_the_results_the_guard_decided_are_not_kept_for_ever(make, world, monkeypatch) -> None:
    """A gate runs for months: what the guard decided is remembered only as far back as a result can be
    offered again, and the latest results still refuse a second decision."""
    import scanner.session

    monkeypatch.setattr(scanner.session, "GUARD_DECIDED_KEPT", 3)
    core = make("transport", anti_passback=False, clock=FixedClock(time.time(), trusted=False))
    checks = [decide_now(core, p) for p in passenger_codes(world, 8)]
    for check in checks:
        core.guard_decide(check, False)
    assert len(core._guard_decided) == 3
    for check in checks[-3:]:
        with pytest.raises(Exception, match="already decided"):
            core.guard_decide(check, True)
