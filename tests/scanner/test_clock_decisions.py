"""The effect of trusted time: a real Checker on a TrustedClock decides "check manually" while untrusted."""

from __future__ import annotations

from pathlib import Path

from keys.keyfile import load_public_key
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.checker import Checker
from scanner.clock import SET_BACK, TrustedClock
from scanner.demo.world import DemoWorld
from scanner.policy import Tone, load_profile


class Times:
    def __init__(self, wall: float):
        self.wall, self.mono = wall, 50.0


def checker_for(world: DemoWorld, clock: TrustedClock) -> Checker:
    trust = TrustStore.from_file(world.trust_list_path, [load_public_key(world.anchor_path)])
    status = StatusStore.open(":memory:")
    for p in world.status_list_paths:
        status.apply(p.read_bytes(), trust, source=str(p))
    return Checker(trust, status, load_profile("transport"), clock=clock)


def test_decisions_follow_the_clock_trust(world: DemoWorld, tmp_path: Path) -> None:
    t = Times(float(world.now))
    clock = TrustedClock.open(tmp_path, wall=lambda: t.wall, monotonic=lambda: t.mono, boot_id=lambda: "b1")
    checker = checker_for(world, clock)
    green = world.payloads["green"]

    first_boot = checker.check(green)  # no reference time yet
    assert not first_boot.clock_trusted and not first_boot.admit
    assert first_boot.outcome == "clock_untrusted" and first_boot.tone is Tone.CHECK

    clock.confirm(world.now)  # the hub confirms
    ok = checker.check(green)
    assert ok.clock_trusted and ok.admit and ok.tone is Tone.PASS

    # Power cut; the Pi boots a day in the past without network.
    t.wall, t.mono = world.now - 86400.0, 3.0
    rebooted = TrustedClock.open(tmp_path, wall=lambda: t.wall, monotonic=lambda: t.mono, boot_id=lambda: "b2")
    assert rebooted.state().reason == SET_BACK
    decision = checker_for(world, rebooted).check(green)
    assert not decision.admit and decision.outcome == "clock_untrusted"
    assert decision.reason is not None and decision.reason.en == "Device clock wrong"


def test_refusals_no_clock_can_change_stand_while_the_clock_is_untrusted(world: DemoWorld, tmp_path: Path) -> None:
    """A forged, revoked, red or yellow code is refused whatever the time: on an untrusted clock it must not turn
    into "manual check — device clock wrong" with an Admit button, which hid from the guard what the code is."""
    t = Times(float(world.now))
    clock = TrustedClock.open(tmp_path, wall=lambda: t.wall, monotonic=lambda: t.mono, boot_id=lambda: "b1")
    checker = checker_for(world, clock)
    assert not clock.trusted()
    got = {name: checker.check(world.payloads[name]) for name in
           ("forged", "revoked", "red", "turned_red", "yellow", "green", "expired", "card")}
    assert {n: (d.outcome, d.admit, d.alert_guard) for n, d in got.items() if n in (
        "forged", "revoked", "red", "turned_red")} == {
        "forged": ("bad_signature", False, True), "revoked": ("revoked", False, True),
        "red": ("red", False, True), "turned_red": ("red", False, True)}
    assert got["yellow"].outcome == "yellow" and not got["yellow"].admit
    assert all(not d.clock_trusted for d in got.values())
    # What hangs on the time (admitting at all, expiry) is still the guard's to check.
    for name in ("green", "expired", "card"):
        assert got[name].outcome == "clock_untrusted" and got[name].tone is Tone.CHECK, name
    garbage = checker.check("HCC1:not a code")
    assert garbage.outcome == "malformed" and not garbage.admit
