"""What each decision looks like, for every sample code at every venue profile (no Qt)."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.checker import Checker
from scanner.clock import FixedClock
from scanner.policy import builtin_names, load_profile
from ui.model.view import COLOURS, ICONS, GroupView, result_view

# Sample code -> the kind of screen it must give at a venue that accepts every issuer.
EXPECTED_KIND = {
    "green": "pass", "guardian": "pass", "card": "pass", "other_region": "pass", "national": "pass",
    "yellow": "yellow", "red": "red", "turned_red": "red",
    "expired": "invalid", "forged": "invalid", "revoked": "invalid",
    "dcc_vaccination": "pass", "dcc_test": "pass", "dcc_expired": "invalid",
}


@pytest.fixture(scope="module")
def stores(world: Any) -> tuple[Any, Any]:
    from keys.keyfile import load_public_key
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore

    trust = TrustStore.from_file(world.trust_list_path, [load_public_key(world.anchor_path)])
    status = StatusStore.open(":memory:")
    for p in world.status_list_paths:
        status.apply(p.read_bytes(), trust, str(p))
    return trust, status


@pytest.mark.parametrize("profile", builtin_names())
def test_every_sample_has_its_colour_icon_and_words(world: Any, stores: Any, profile: str) -> None:
    trust, status = stores
    checker = Checker(trust, status, load_profile(profile), clock=FixedClock(world.now))
    for name, sample in world.samples.items():
        d = checker.check(sample.payload)
        v = result_view(d)
        kind = EXPECTED_KIND[name]
        assert v.kind == kind, (profile, name)
        assert (v.colour, v.text_colour) == COLOURS[kind]
        assert v.icon == ("✓" if d.admit else ICONS[kind])
        assert v.admit == (kind == "pass")
        assert v.headline == d.headline and v.guidance == d.guidance
        lines = v.lines()
        assert d.headline.zh in lines and d.headline.en in lines
        if kind == "invalid":
            assert v.reason is not None and v.reason.en in lines
        if name == "other_region":
            assert v.region_text == "上海 Shanghai"
        if name == "guardian":
            assert v.guardian is not None
            assert v.guardian.zh == "由 李*华（父母）出示"
            assert v.guardian.en == "Shown by 李*华 (parent)"
        assert v.card == (name == "card")


def test_invalid_reasons_in_plain_words(world: Any, stores: Any) -> None:
    trust, status = stores
    checker = Checker(trust, status, load_profile("mall"), clock=FixedClock(world.now))
    forged = result_view(checker.check(world.payloads["forged"]))
    assert forged.reason is not None
    assert (forged.reason.zh, forged.reason.en) == ("签名无效，可能伪造", "Signature invalid — possibly forged")
    # A forged code only claims a name and a region: the screen must not vouch for either.
    assert forged.region is None and forged.person is not None and "unverified" in forged.person
    expired = result_view(checker.check(world.payloads["expired"]))
    assert expired.reason is not None and expired.reason.en == "Past the validity period its issuer set"
    assert expired.region_text == "浙江 Zhejiang"
    garbage = result_view(checker.check("HCC1:NOT-A-CODE"))
    assert garbage.kind in ("invalid", "check") and garbage.icon in ("✕", "?")


def test_unknown_issuer_and_untrusted_clock_are_manual_checks(world: Any, stores: Any) -> None:
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore

    trust, status = stores
    empty = TrustStore([])
    v = result_view(Checker(empty, StatusStore.open(":memory:"), load_profile("office"),
                            clock=FixedClock(world.now)).check(world.payloads["green"]))
    assert (v.kind, v.icon) == ("check", "?")
    assert v.reason is not None and v.reason.zh == "未知发码机构"
    untrusted = Checker(trust, status, load_profile("transport"), clock=FixedClock(world.now, trusted=False))
    v = result_view(untrusted.check(world.payloads["green"]))
    assert (v.kind, v.icon, v.admit) == ("check", "?", False)
    assert v.colour != COLOURS["invalid"][0]


def test_group_admitted_only_if_everyone_is(world: Any, stores: Any) -> None:
    trust, status = stores
    checker = Checker(trust, status, load_profile("school"), clock=FixedClock(world.now))
    views = {n: result_view(checker.check(p)) for n, p in world.payloads.items()}
    family = GroupView((views["green"], views["guardian"], views["card"]))
    assert family.admit and family.kind == "pass" and "3" in family.headline.en
    mixed = GroupView((views["green"], views["guardian"], views["yellow"]))
    assert not mixed.admit and mixed.kind == "yellow"
    assert "2 of 3" in mixed.headline.en
    assert GroupView((views["green"], views["red"], views["yellow"])).kind == "red"
    assert GroupView((views["forged"], views["green"])).alert
