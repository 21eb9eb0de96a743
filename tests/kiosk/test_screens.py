"""The kiosk window, offscreen: colours from pixels, icons, words, timeouts, groups, alerts, banners."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor

from scanner.clock import FixedClock
from scanner.demo.session import decide_now
from scanner.policy import builtin_names
from ui.model.view import ALERT_BORDER, AMBER, COLOURS, result_view
from ui.sound import RecordingSound

SAMPLES = ("green", "yellow", "red", "guardian", "card", "other_region", "expired", "forged", "revoked")


def pixel(widget: Any, x: int, y: int) -> str:
    return QColor(widget.grab().toImage().pixelColor(x, y)).name()


def background(w: Any) -> str:
    """The result screen's colour, read from the painted pixels just inside the alert border (the
    contents start further in)."""
    b = w.result.border_width()
    return pixel(w.result, b + 3, b + 3)


@pytest.mark.parametrize("profile", builtin_names())
def test_every_result_paints_its_colour_icon_and_text(make_core: Any, world: Any, make_window: Any, qtbot: Any,
                                                      profile: str) -> None:
    core = make_core(profile)
    w = make_window(result_seconds=30)
    for name in SAMPLES:
        w.clear()
        shown = decide_now(core, world.payloads[name])
        w.show_decision(shown)
        v = result_view(shown.decision)
        assert w.page() == "result"
        assert background(w) == v.colour, (profile, name)
        assert w.result.panel.icon.symbol == v.icon
        texts = w.result.texts()
        assert v.headline.zh in texts and v.headline.en in texts
        assert v.guidance.zh in texts and v.guidance.en in texts
        if v.reason:
            assert v.reason.zh in texts and v.reason.en in texts
        if name == "other_region":
            assert "M*** D**** · 上海 Shanghai" in texts
        if name == "guardian":
            assert "由 李*华（父母）出示 / Shown by 李*华 (parent)" in texts
        if name == "card":
            assert any("纸质码 / printed card" in t for t in texts)
        w.acknowledge()


def test_result_returns_to_idle_after_its_time(core: Any, world: Any, make_window: Any, qtbot: Any) -> None:
    w = make_window(result_seconds=0.3)
    w.show_decision(decide_now(core, world.payloads["green"]))
    assert w.page() == "result"
    with qtbot.waitSignal(w.screen_changed, timeout=5000) as sig:
        pass
    assert sig.args == ["idle"]
    assert pixel(w.idle, 3, 3) == "#14202b"


def test_next_different_code_replaces_the_result(core: Any, world: Any, make_window: Any) -> None:
    w = make_window(result_seconds=30, fast_stream=True)
    w.show_decision(decide_now(core, world.payloads["green"]))
    w.show_decision(decide_now(core, world.payloads["yellow"]))
    assert w.group() is not None and len(w.group().members) == 1
    assert w.group().members[0].kind == "yellow"
    assert background(w) == COLOURS["yellow"][0]


def test_family_tiles_group_admitted_only_if_all_are(core: Any, world: Any, make_window: Any) -> None:
    sound = RecordingSound()
    w = make_window(result_seconds=30, sound=sound)
    core.set_family_held(True)  # the guard holds the family key
    for name in ("green", "guardian", "card"):
        w.show_decision(decide_now(core, world.payloads[name]))
    g = w.group()
    assert g is not None and len(g.members) == 3 and g.admit
    assert len(w.result.tiles) == 3 and not w.result.panel.isVisible()
    assert background(w) == COLOURS["pass"][0]
    assert "全部通过（3人）" in w.result.texts()
    w.show_decision(decide_now(core, world.payloads["yellow"]))
    g = w.group()
    assert g is not None and len(g.members) == 4 and not g.admit
    assert background(w) == COLOURS["yellow"][0]
    assert [t.icon.symbol for t in w.result.tiles] == ["✓", "✓", "✓", "!"]
    assert sound.played[-1] == "stop"
    # The same code again does not make a fifth tile.
    w.show_decision(decide_now(core, world.payloads["green"]))
    assert len(w.group().members) == 4 and list(w.queue)


def test_guard_alert_flashes_until_acknowledged(core: Any, world: Any, make_window: Any, qtbot: Any) -> None:
    sound = RecordingSound()
    w = make_window(result_seconds=0.2, sound=sound)
    w.show_decision(decide_now(core, world.payloads["forged"]))
    assert w.alert_pending and w.result.alert_on and sound.played == ["alert"]
    # The flashing border is painted in the alert colour, and it flashes.
    qtbot.waitUntil(lambda: w.result.flash_phase, timeout=3000)
    assert pixel(w.result, 2, w.result.height() // 2) == ALERT_BORDER
    qtbot.waitUntil(lambda: not w.result.flash_phase, timeout=3000)
    assert pixel(w.result, 2, w.result.height() // 2) == COLOURS["invalid"][0]
    # The result time passes, the alert stays; a decision meanwhile waits its turn.
    with qtbot.assertNotEmitted(w.screen_changed, wait=600):
        pass
    assert w.page() == "result"
    w.show_decision(decide_now(core, world.payloads["green"]))
    assert w.group() is not None and w.group().members[0].verdict == "bad_signature"
    # A tap is not enough: the guard holds the screen for a second.
    with qtbot.assertNotEmitted(w.acknowledged, wait=100):
        qtbot.mouseClick(w, Qt.MouseButton.LeftButton, pos=QPoint(400, 240))
    assert w.alert_pending
    with qtbot.waitSignal(w.acknowledged, timeout=3000):
        qtbot.mousePress(w, Qt.MouseButton.LeftButton, pos=QPoint(400, 240))
    qtbot.mouseRelease(w, Qt.MouseButton.LeftButton, pos=QPoint(400, 240))
    assert not w.alert_pending and not w.result.alert_on
    assert w.group() is not None and w.group().members[0].kind == "pass"


def test_alert_acknowledged_by_key_and_tone_repeats(core: Any, world: Any, make_window: Any, qtbot: Any) -> None:
    import ui.widgets.guard

    sound = RecordingSound()
    w = make_window(sound=sound)
    w.alert_timer.setInterval(50)
    w.show_decision(decide_now(core, world.payloads["red"]))
    qtbot.waitUntil(lambda: sound.played.count("alert") >= 3, timeout=5000)
    with qtbot.waitSignal(w.acknowledged, timeout=3000):
        qtbot.keyClick(w, Qt.Key.Key_Space)
    n = len(sound.played)
    with qtbot.assertNotEmitted(w.acknowledged, wait=200):
        pass
    assert len(sound.played) == n and w.page() == "idle"
    assert ui.widgets.guard.ALERT_REPEAT_MS > 1000  # the real repeat is not a tight loop


def test_sounds_follow_the_decision_and_mute(core: Any, world: Any, make_window: Any) -> None:
    sound = RecordingSound()
    w = make_window(sound=sound, fast_stream=True)
    w.show_decision(decide_now(core, world.payloads["green"]))
    w.show_decision(decide_now(core, world.payloads["expired"]))
    assert sound.played == ["pass", "stop"]
    sound.set_muted(True)
    w.show_decision(decide_now(core, world.payloads["national"]))
    assert sound.played == ["pass", "stop"]


def test_status_bar_stale_data_and_untrusted_clock(make_core: Any, make_window: Any, world: Any) -> None:
    fresh = make_core(clock=FixedClock(world.now))
    w = make_window()
    w.set_status(fresh.snapshot())
    assert not w.status_bar.chip("trust_list").warn and not w.status_bar.chip("status_list").warn
    assert not w.status_bar.chip("clock").warn
    assert not w.idle.banner.isVisibleTo(w.idle)
    assert w.status_bar.chip("network").value.startswith("?")  # no sync agent: unknown, never "online"
    # Two days later nothing has been synced: both lists are past their next update.
    stale = make_core(clock=FixedClock(world.now + 2 * 86400))
    w.set_status(stale.snapshot())
    for name in ("trust_list", "status_list"):
        chip = w.status_bar.chip(name)
        assert chip.warn and "stale" in chip.value
        assert pixel(w.status_bar.cells[name], 2, 2) == QColor(AMBER).name()
    assert w.idle.banner.isVisibleTo(w.idle) and "out of date" in w.idle.banner.text()
    untrusted = make_core(clock=FixedClock(world.now, trusted=False))
    w.set_status(untrusted.snapshot())
    assert w.status_bar.chip("clock").warn and "⚠" in w.status_bar.chip("clock").value
    assert "Device clock not trusted" in w.idle.banner.text()


def test_sync_status_file_and_counts(core: Any, world: Any, make_window: Any) -> None:
    import json
    import time

    w = make_window()
    (core.data_dir / "sync-status.json").write_text(json.dumps({"online": False, "pending": 7,
                                                                 "updated_at": time.time()}))
    decide_now(core, world.payloads["green"])
    decide_now(core, world.payloads["red"])
    decide_now(core, world.payloads["forged"])
    w.set_status(core.snapshot())
    assert "offline" in w.status_bar.chip("network").value and w.status_bar.chip("network").warn
    assert w.status_bar.chip("pending").value == "7"
    assert w.status_bar.chip("counts").value.split() == ["✓", "1", "✕", "2"]
    assert w.status_bar.chip("device").value == "demo-kiosk · Demo gate"
    (core.data_dir / "sync-status.json").write_text(json.dumps({"online": True, "pending": 0,
                                                                 "updated_at": time.time()}))
    w.set_status(core.snapshot())
    assert "online" in w.status_bar.chip("network").value and not w.status_bar.chip("network").warn


def test_school_counts_students_this_morning(make_core: Any, make_window: Any, world: Any) -> None:
    core = make_core("school")
    w = make_window()
    for name in ("green", "guardian", "yellow"):
        decide_now(core, world.payloads[name])
    w.set_status(core.snapshot())
    assert "Checked in this morning: 2" in w.idle.count.text()
    rows = list(core.visit_log.rows())
    assert [r["extra"] for r in rows][:2] == [{"school": {"role": "student", "direction": "in"}}] * 2


def test_pharmacy_registers_drug_categories_with_the_visit(make_core: Any, make_window: Any, world: Any,
                                                          qtbot: Any) -> None:
    core = make_core("pharmacy")
    w = make_window(result_seconds=0.2)
    w.purchase.connect(core.register_purchase)
    w.show_decision(decide_now(core, world.payloads["green"]))
    assert w.result.pharmacy.isVisible()
    assert core.visit_log.count() == 1  # logged at the decision: a crash before the registration loses nothing
    # The clerk takes longer than the result time: the screen waits for the registration.
    with qtbot.assertNotEmitted(w.screen_changed, wait=500):
        pass
    qtbot.mouseClick(w.result.pharmacy.buttons["antipyretic"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(w.result.pharmacy.buttons["antiviral"], Qt.MouseButton.LeftButton)
    # Register looks like no drug toggle, chosen or not: its own fill, and wider.
    confirm, drug, chosen = (b.grab().toImage() for b in (
        w.result.pharmacy.confirm, w.result.pharmacy.buttons["antitussive"], w.result.pharmacy.buttons["antiviral"]))
    middle = (confirm.width() // 2, 8)
    assert confirm.pixelColor(*middle) not in (drug.pixelColor(drug.width() // 2, 8),
                                               chosen.pixelColor(chosen.width() // 2, 8))
    assert confirm.width() > drug.width()
    with qtbot.waitSignal(w.screen_changed, timeout=3000):
        qtbot.mouseClick(w.result.pharmacy.confirm, Qt.MouseButton.LeftButton)
    rows = list(core.visit_log.rows())
    assert len(rows) == 2 and rows[0]["extra"] == {} and rows[0]["admit"]
    assert rows[1]["extra"] == {"drug_categories": ["antipyretic", "antiviral"]}
    assert rows[1]["decided_by"] == "clerk" and rows[1]["ref_visit"] == rows[0]["visit_id"]
    assert core.counts().admitted == 1  # the registration is not a second visit
    # The clerk sees the registration was made.
    assert w.idle.note.isVisible() and w.idle.note.text() == "已登记：退烧、抗病毒 / Registered: Fever, Antiviral"
    qtbot.waitUntil(lambda: not w.idle.note.isVisible(), timeout=5000)
    # A refused buyer gets no registration panel; a pass the clerk never registers is still logged.
    w.show_decision(decide_now(core, world.payloads["yellow"]))
    assert not w.result.pharmacy.isVisible()
    w.acknowledge()
    w.show_decision(decide_now(core, world.payloads["national"]))
    w.go_idle()
    rows = list(core.visit_log.rows())
    assert len(rows) == 4 and rows[3]["extra"] == {} and rows[3]["admit"]


def test_venue_profiles_published_by_the_hub_take_effect(core: Any, world: Any) -> None:
    import json

    assert result_view(decide_now(core, world.payloads["green"]).decision).headline.en == "Green code — please pass"
    published = {"transport": {"outcomes": {"green": {"headline": {"zh": "绿码 请通行（新）",
                                                                   "en": "Green code — go ahead (new)"}}}}}
    (core.data_dir / "venue-profiles.json").write_text(json.dumps({"version": 3, "profiles": published}))
    core.snapshot()
    assert core.hub_profiles_version == 3
    # Another person's green code (the hub's transport layer brings the profile's anti-passback back).
    assert result_view(decide_now(core, world.payloads["other_region"]).decision).headline.en == \
        "Green code — go ahead (new)"
    # A broken document is ignored; the loaded profile stays.
    (core.data_dir / "venue-profiles.json").write_text('{"version": 4, "profiles": {"transport": {"x": 1}}}')
    os.utime(core.data_dir / "venue-profiles.json", (1, 1))
    core.snapshot()
    assert core.hub_profiles_version == 3
    assert result_view(decide_now(core, world.payloads["national"]).decision).headline.en == \
        "Green code — go ahead (new)"


def test_trusted_clock_confirmed_from_the_sync_agents_hub_time(make_core: Any, make_window: Any,
                                                               tmp_path: Path) -> None:
    import json
    import time

    from scanner.clock import TrustedClock

    clock = TrustedClock.open(tmp_path / "clockdata")  # first boot: nothing to compare with
    core = make_core(clock=clock)
    w = make_window()
    w.set_status(core.snapshot())
    assert not clock.trusted() and w.status_bar.chip("clock").warn
    now = time.time()
    (core.data_dir / "sync-status.json").write_text(json.dumps(
        {"online": True, "pending": 0, "updated_at": now, "hub_time_offset": 0.4, "hub_time_measured_at": now}))
    w.set_status(core.snapshot())
    assert clock.trusted() and not w.status_bar.chip("clock").warn
    assert "Device clock" not in w.idle.banner.text()


def test_wedge_burst_with_spaces_during_an_alert_is_a_scan_not_an_acknowledgement(
        core: Any, world: Any, make_window: Any, qtbot: Any) -> None:
    w = make_window()
    typed: list[str] = []
    w.key_text.connect(typed.append)
    w.show_decision(decide_now(core, world.payloads["revoked"]))
    assert w.alert_pending
    qtbot.keyClicks(w, "HCC1:AB CD")
    qtbot.keyClick(w, Qt.Key.Key_Return)
    assert "".join(typed) == "HCC1:AB CD\r" and w.alert_pending
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    assert not w.alert_pending and w.page() == "idle"


def test_manual_check_screens_untrusted_clock_and_issuer_not_accepted(make_core: Any, make_window: Any,
                                                                      world: Any) -> None:
    from scanner.policy import load_profile

    w = make_window(result_seconds=30)
    untrusted = make_core(clock=FixedClock(world.now, trusted=False))
    shown = decide_now(untrusted, world.payloads["green"])
    w.show_decision(shown)
    assert (result_view(shown.decision).kind, w.result.panel.icon.symbol) == ("check", "?")
    assert background(w) == COLOURS["check"][0]
    assert "Check ID and decide; ask the administrator to set the time" in w.result.texts()
    assert "设备时钟异常" in w.result.texts()  # the reason, in plain words
    assert w.result.guard.isVisible() and w.awaiting_guard is shown  # Admit / Deny
    # A venue that only accepts Zhejiang's codes: a Shanghai code is a manual check, not a refusal.
    local = make_core()
    local.set_profile("mall", {"mall": {"profile": {"accepted_issuers": ["CN-ZJ"]}}})
    w.clear()
    shown = decide_now(local, world.payloads["other_region"])
    w.show_decision(shown)
    assert result_view(shown.decision).outcome == "not_accepted" and w.result.panel.icon.symbol == "?"
    assert background(w) == COLOURS["check"][0]
    assert "This venue does not accept codes from this region" in w.result.texts()
    assert load_profile("mall").accepts("CN-SH")


def test_visit_log_storage_alarm_is_shown(core: Any, world: Any, make_window: Any) -> None:
    w = make_window()
    core.visit_log.set_cap(0.01)  # a cap the log is already over
    core.visit_log.alarm_percent = 1
    w.set_status(core.snapshot())
    assert "Visit log:" in w.idle.banner.text() and w.idle.banner.isVisibleTo(w.idle)


def test_a_damaged_visit_log_is_shown_until_an_operator_acknowledges_it(core: Any, make_window: Any,
                                                                         tmp_path: Path) -> None:
    from scanner.storage.salvage import salvage
    from tests.helpers.damage import overwrite_pages, written_log

    damaged = tmp_path / "visits.sqlite.bad-1"
    written_log(damaged, 200)
    overwrite_pages(damaged, (5,))
    core.visit_log.recovered.add(salvage(damaged))
    core._storage_checked = -1e9  # the log's state is looked at every 30 s: now
    w = make_window()
    w.set_status(core.snapshot())
    assert w.status_bar.chip("storage").value == "⚠ 已损坏 damaged" and w.status_bar.chip("storage").warn
    assert "visit log damaged (visits.sqlite.bad-1)" in w.idle.banner.text()
    assert "could not be read" in w.idle.banner.text()

    core.visit_log.recovered.acknowledge()
    core._storage_checked = -1e9
    w.set_status(core.snapshot())
    assert all(c.name != "storage" for c in w.status_bar.chips) and "damaged" not in w.idle.banner.text()


def test_a_status_store_set_aside_is_said_until_the_lists_are_back(make_core: Any, make_window: Any) -> None:
    from keys.statusstore import StatusStore

    core = make_core()
    path = Path(core.checker.status.path)
    core.checker.status.close()
    path.write_bytes(b"not a database " * 400)
    core.checker.status = StatusStore.open(path)  # what open_stores does at start-up
    w = make_window()
    w.set_status(core.snapshot())
    assert w.status_bar.chip("storage").warn
    assert "Status list cache was damaged and set aside" in w.idle.banner.text()


def test_a_refused_cached_trust_list_is_said_on_screen(make_core: Any, make_window: Any, world: Any) -> None:
    from keys.trustlist import TrustStore

    core = make_core(clock=FixedClock(world.now))
    directory = core.checker.trust.directory
    (directory / "trustlist.json").write_text('{"payload": "trunc')
    core.checker.trust = TrustStore.open(directory, core.anchors)  # what open_stores does at start-up
    assert core.checker.trust.issued_at is None and core.checker.trust.problem
    w = make_window()
    w.set_status(core.snapshot())
    text = w.idle.banner.text()
    assert w.idle.banner.isVisibleTo(w.idle)
    assert "No valid trust list" in text and "cached trust list refused" in text
    assert w.status_bar.chip("trust_list").warn


def test_a_running_kiosk_keeps_its_trust_list_when_a_bad_one_lands(make_core: Any, world: Any) -> None:
    import os

    core = make_core(clock=FixedClock(world.now))
    issued = core.checker.trust.issued_at
    path = core.checker.trust.directory / "trustlist.json"
    path.write_text("not json")
    os.utime(path, (world.now + 5, world.now + 5))  # a new mtime, as when the sync agent replaces it
    snap = core.snapshot()
    assert snap.trust_list_issued == issued and snap.trust_list_problem is None
    assert path.read_text() == "not json"  # left in place for the agent to replace, not moved aside


def test_admin_pages_time_out_to_scanning_and_scans_meanwhile_wait(core: Any, world: Any, make_window: Any,
                                                                   qtbot: Any) -> None:
    w = make_window(admin_timeout_s=0.6)
    w.open_pin()
    assert w.page() == "pin"
    # A touch on the pad keeps it open: the idle time starts again.
    qtbot.wait_until(lambda: w.admin_idle.remainingTime() < 400, timeout=2000)
    qtbot.mouseClick(w.pin.keys["1"], Qt.MouseButton.LeftButton)
    assert w.admin_idle.remainingTime() > 400 and w.page() == "pin"
    # A code scanned while the pad is open waits; it is shown when the pad times out.
    shown = decide_now(core, world.payloads["green"])
    w.show_decision(shown)
    assert w.page() == "pin" and list(w.queue) == [shown]
    qtbot.wait_until(lambda: w.page() == "result", timeout=3000)
    assert w.group() is not None and w.group().members[0].code_key == result_view(shown.decision).code_key
    assert "1 scan(s) logged meanwhile" in w.result.note.text()
