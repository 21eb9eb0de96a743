"""The guard at a real gate, on the kiosk: a stream of strangers, Admit/Deny, acknowledgements, repeats."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, Qt

from scanner.clock import FixedClock
from scanner.demo.session import decide_now, demo_core
from scanner.events import RepeatEvent
from scanner.pin import hash_pin
from ui.app import KioskApp, KioskOptions
from ui.sound import RecordingSound


def kiosk_on(core: Any, qtbot: Any, **options: Any) -> KioskApp:
    k = KioskApp(core, [], sound=RecordingSound(), options=KioskOptions(result_seconds=30, **options))
    qtbot.addWidget(k.window)
    k.window.resize(800, 480)
    k.window.show()
    return k


def test_a_stream_of_strangers_is_one_screen_each_and_each_is_seen(make_core: Callable[..., Any], world: Any,
                                                                   qtbot: Any) -> None:
    core = make_core("mall")  # not a fast-stream venue: each result shows at least min_result_seconds
    k = kiosk_on(core, qtbot, min_result_seconds=0.3)
    w = k.window
    seen: list[str] = []
    w.result_painted.connect(lambda g: seen.append(g.members[0].code_key))
    names = ("green", "guardian", "card", "national", "other_region")
    for name in names:
        k.decided.emit(decide_now(core, world.payloads[name]))
        assert w.group() is not None and len(w.group().members) == 1  # never a family
    qtbot.wait_until(lambda: len(seen) == len(names), timeout=10000)
    assert len(set(seen)) == len(names)
    assert core.visit_log.count() == len(names)


def test_fast_stream_replaces_at_once(make_core: Callable[..., Any], world: Any, qtbot: Any) -> None:
    core = make_core("transport")
    k = kiosk_on(core, qtbot)
    assert k.window.fast_stream  # the transport profile's default
    for name in ("green", "national"):
        k.decided.emit(decide_now(core, world.payloads[name]))
    assert k.window.group().members[0].region is not None and not k.window.queue


def test_guard_admits_and_denies_a_manual_check(tmp_path: Any, world: Any, qtbot: Any) -> None:
    core, _ = demo_core(tmp_path / "d", world=world, clock=FixedClock(world.now, trusted=False))
    k = kiosk_on(core, qtbot)
    w = k.window
    k.decided.emit(decide_now(core, world.payloads["green"]))
    assert w.result.guard.isVisible() and "放行 Admit" in w.result.guard.admit.text()
    qtbot.mouseClick(w.result.guard.admit, Qt.MouseButton.LeftButton)
    rows = list(core.visit_log.rows())
    assert [r["decided_by"] for r in rows] == ["device", "guard"] and rows[1]["admit"]
    assert rows[1]["ref_visit"] == rows[0]["visit_id"]
    assert w.page() == "result" and w.group().admit and not w.result.guard.isVisible()
    assert "Checked by staff — please enter" in w.result.texts()
    # The keypad: Backspace denies the next one (a key on its own, not inside a scanner's burst).
    w.clear()
    k.decided.emit(decide_now(core, world.payloads["national"]))
    w._last_key_at = 0.0
    qtbot.keyClick(w, Qt.Key.Key_Backspace)
    rows = list(core.visit_log.rows())
    assert rows[-1]["decided_by"] == "guard" and not rows[-1]["admit"]
    assert "Refused by staff — do not enter" in w.result.texts()
    k.stop()


def test_alert_acknowledged_by_holding_and_logged(core: Any, world: Any, qtbot: Any) -> None:
    k = kiosk_on(core, qtbot)
    w = k.window
    k.decided.emit(decide_now(core, world.payloads["red"]))
    assert w.alert_pending
    with qtbot.waitSignal(w.acknowledged, timeout=3000):
        qtbot.mousePress(w, Qt.MouseButton.LeftButton, pos=QPoint(400, 240))
    qtbot.mouseRelease(w, Qt.MouseButton.LeftButton, pos=QPoint(400, 240))
    assert core.counts().acknowledged == 1 and not w.alert_pending
    k.stop()


def test_alert_needs_the_pin_when_configured(core: Any, world: Any, qtbot: Any) -> None:
    core.ack_pin_hash = hash_pin("2468", ln=10)
    k = kiosk_on(core, qtbot, ack_requires_pin=True)
    w = k.window
    k.decided.emit(decide_now(core, world.payloads["red"]))
    assert "PIN" in w.result.ack_hint.text()
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert w.page() == "pin" and w.alert_pending
    w.pin.entry.setText("1111")
    qtbot.mouseClick(w.pin.keys["OK"], Qt.MouseButton.LeftButton)
    assert w.page() == "pin" and w.alert_pending and core.counts().acknowledged == 0
    assert "PIN" in w.pin.message.text()
    # Back without the PIN: the alert is still there.
    qtbot.mouseClick(w.pin.keys["back"], Qt.MouseButton.LeftButton)
    assert w.page() == "result" and w.alert_pending
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    w.pin.entry.setText("2468")
    with qtbot.waitSignal(w.acknowledged, timeout=3000):
        qtbot.mouseClick(w.pin.keys["OK"], Qt.MouseButton.LeftButton)
    assert core.counts().acknowledged == 1 and w.page() == "idle"
    k.stop()


def test_repeat_scan_beeps_and_notes_on_the_current_screen(core: Any, world: Any, qtbot: Any) -> None:
    k = kiosk_on(core, qtbot)
    w = k.window
    sound = k.sound
    k.decided.emit(decide_now(core, world.payloads["green"]))
    k.repeated.emit(core.handle_repeat(RepeatEvent(world.payloads["green"], "test", time.monotonic(), 1.0)))
    assert sound.played[-1] == "repeat" and w.page() == "result"
    assert "Already checked" in w.result.note.text() and w.result.note.isVisible()
    assert core.visit_log.count() == 1  # not counted again
    k.stop()


def test_a_repeat_note_stays_with_its_own_person(make_core: Callable[..., Any], world: Any, qtbot: Any) -> None:
    """The "already checked" note is about one code: the next person's result never carries it, and a repeat
    of an earlier code while someone else's result shows only beeps."""
    core = make_core("transport")  # fast stream: the next person's result replaces the current one at once
    k = kiosk_on(core, qtbot)
    w = k.window
    first, second, third = (world.payloads[n] for n in ("green", "guardian", "card"))
    k.decided.emit(decide_now(core, first))
    k.repeated.emit(core.handle_repeat(RepeatEvent(first, "test", time.monotonic(), 1.0)))
    assert "Already checked" in w.result.note.text()
    k.decided.emit(decide_now(core, second))
    assert [m.payload_key for m in w.members] == [second] and w.page() == "result"
    assert not w.result.note.isVisibleTo(w.result)  # the second person was not "already checked"
    k.repeated.emit(core.handle_repeat(RepeatEvent(first, "test", time.monotonic(), 2.0)))
    assert k.sound.played[-1] == "repeat" and not w.result.note.isVisibleTo(w.result)
    k.decided.emit(decide_now(core, third))
    k.repeated.emit(core.handle_repeat(RepeatEvent(third, "test", time.monotonic(), 1.0)))
    assert "Already checked" in w.result.note.text() and w.result.note.isVisibleTo(w.result)
    k.stop()


def test_already_admitted_and_issued_ago(tmp_path: Any, world: Any, qtbot: Any) -> None:
    core, _ = demo_core(tmp_path / "ap", world=world, anti_passback=True)
    k = kiosk_on(core, qtbot)
    w = k.window
    k.decided.emit(decide_now(core, world.payloads["green"]))
    issued = w.result.panel.issued.text()
    assert issued.startswith("签发于") and "ago" in issued
    w.clear()
    k.decided.emit(decide_now(core, world.payloads["green"]))
    texts = " ".join(w.result.texts())
    assert "Already admitted at" in texts and not w.group().admit and w.alert_pending
    assert w.result.guard.isVisible()  # the guard may still decide
    assert core.counts().admitted == 1
    k.stop()


def test_gate_output_failure_shows_in_the_status_bar(core: Any, qtbot: Any) -> None:
    import dataclasses

    k = kiosk_on(core, qtbot)
    s = core.snapshot()
    k.window.set_status(dataclasses.replace(s, extra={**s.extra, "gate": "闸机输出故障 / Gate output failed: busy"}))
    chip = k.window.status_bar.chip("gate")
    assert chip.warn and k.window.status_bar.cells["gate"].isVisible()
    assert "let people through by hand" in k.window.idle.banner.text()
    k.stop()


def test_guard_keys_are_named_as_qt_names_them() -> None:
    import pytest

    from scanner.errors import ConfigError
    from ui.widgets.guardkeys import GuardKeys

    keys = GuardKeys.named("Enter", "Backspace", "Space", "F2")
    assert keys.admit == int(Qt.Key.Key_Return)  # the keypad's Enter and Return are one key
    with pytest.raises(ConfigError, match=r"display\.deny_key"):
        GuardKeys.named(deny="Frobnicate")


def test_two_guard_keys_on_one_key_are_refused_by_name() -> None:
    import pytest

    from scanner.errors import ConfigError
    from ui.widgets.guardkeys import GuardKeys

    # Enter is Return: as Deny it would never deny (Admit is checked first), and the guard would not know.
    with pytest.raises(ConfigError, match=r"display\.deny_key: 'Enter' is the key of display\.admit_key"):
        GuardKeys.named("Return", "Enter", "Space", "F2")
    # The family key held down would also acknowledge every alert.
    with pytest.raises(ConfigError, match=r"display\.family_key: 'space' is the key of display\.guard_key"):
        GuardKeys.named("Return", "Backspace", "Space", "space")


def test_pins_tried_at_the_alerts_pad_count_toward_the_lockout(core: Any, world: Any, qtbot: Any) -> None:
    """The red-code holder at the PIN pad of his own alert: as rate-limited as the admin panel's pad (it is
    the same PIN), and the lockout holds for the admin panel too."""
    from ui.model.pinauth import PinGate

    core.ack_pin_hash = hash_pin("2468", ln=10)
    now = [1000.0]
    gate = PinGate(core.ack_pin_hash, max_attempts=3, lockout_seconds=60, clock=lambda: now[0])
    k = KioskApp(core, [], sound=RecordingSound(), pin_gate=gate,
                 options=KioskOptions(result_seconds=30, ack_requires_pin=True))
    qtbot.addWidget(k.window)
    w = k.window
    w.resize(800, 480)
    w.show()
    k.decided.emit(decide_now(core, world.payloads["red"]))
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert w.page() == "pin"
    for pin in ("1111", "2222", "3333"):
        w.pin.entry.setText(pin)
        qtbot.mouseClick(w.pin.keys["OK"], Qt.MouseButton.LeftButton)
    assert "locked for 60 s" in w.pin.message.text()
    w.pin.entry.setText("2468")  # the right PIN, but within the lockout: refused, the alert stays
    qtbot.mouseClick(w.pin.keys["OK"], Qt.MouseButton.LeftButton)
    assert w.alert_pending and core.counts().acknowledged == 0 and "Locked" in w.pin.message.text()
    now[0] += 61
    w.pin.entry.setText("2468")
    with qtbot.waitSignal(w.acknowledged, timeout=3000):
        qtbot.mouseClick(w.pin.keys["OK"], Qt.MouseButton.LeftButton)
    assert core.counts().acknowledged == 1
    k.stop()


def test_an_already_admitted_code_says_the_fixed_prompt_not_a_new_phrase_each_minute(
        make_core: Callable[..., Any], world: Any, qtbot: Any) -> None:
    """"Already admitted at 08:12" spoken would need a voice file for every minute of the day, made while the
    person waits (the tone alone plays until then): the prepared "Already admitted" prompt says the same."""
    from scanner.sound.prompts import PROMPTS, spoken

    core = make_core("transport")
    core.set_profile("transport", {})  # the built-in profile: anti-passback on (the demo's core turns it off)
    k = kiosk_on(core, qtbot)
    code = world.payloads["green"]
    k.decided.emit(decide_now(core, code))
    k.decided.emit(decide_now(core, code))
    assert k.window.group().members[0].outcome == "already_admitted"
    assert k.window.sound.said[-1] == spoken(PROMPTS["already_admitted"])
    k.stop()


def test_an_unattended_mall_kiosk_is_not_held_by_a_red_code(make_core: Callable[..., Any], world: Any,
                                                            qtbot: Any) -> None:
    """Nobody stands at a mall kiosk to acknowledge an alert: a red (forged, revoked) code must not hold the screen
    and queue every later customer until someone comes, with the alarm repeating meanwhile."""
    core = make_core("mall")
    assert not any(rule.alert_guard for rule in core.profile.rules.values())
    k = kiosk_on(core, qtbot, min_result_seconds=0.0)
    w = k.window
    for name in ("red", "forged", "revoked"):
        k.decided.emit(decide_now(core, world.payloads[name]))
        assert not w.alert_pending and w.group().members[0].kind in ("red", "invalid")
        assert "wait here for staff" not in " ".join(w.result.texts())
    k.decided.emit(decide_now(core, world.payloads["national"]))
    assert w.group().admit and not w.queue
    k.stop()


def test_the_alerts_pin_pad_left_idle_returns_to_the_alert_not_to_an_idle_screen(core: Any, world: Any,
                                                                                  qtbot: Any) -> None:
    """Nobody enters the PIN: after admin.idle_timeout the pad closes onto the alert still pending, never onto the
    idle screen inviting the next person while the alarm repeats and every scan waits unseen behind it."""
    core.ack_pin_hash = hash_pin("2468", ln=10)
    k = KioskApp(core, [], sound=RecordingSound(),
                 options=KioskOptions(result_seconds=30, ack_requires_pin=True, admin_timeout_s=0.2))
    qtbot.addWidget(k.window)
    w = k.window
    w.resize(800, 480)
    w.show()
    k.decided.emit(decide_now(core, world.payloads["red"]))
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert w.page() == "pin" and w.alert_pending
    qtbot.waitUntil(lambda: w.page() != "pin", timeout=5000)
    assert w.page() == "result" and w.alert_pending and w.result.alert_on
    k.stop()
