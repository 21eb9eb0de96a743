"""The headless gate and a family in one camera frame (real QR pixels): the turnstile follows the group."""

from __future__ import annotations

import io
import json

from gpiozero.pins.mock import MockFactory

from scanner.config import GateSettings, Settings
from scanner.demo.session import demo_core
from scanner.gate.control import Gate
from scanner.gate.grouping import GROUP_REFUSED
from scanner.gate.runner import GateRunner
from scanner.sound.player import Announcer, CueCache, RecordingPlayer
from scanner.sound.prompts import PROMPTS
from scanner.sources.synthetic import SyntheticSource
from tests.helpers.payloads import passenger_codes


class Said(Announcer):
    """A real announcer (tones only, a recording player) that keeps the words it was asked to say."""

    def __init__(self, folder) -> None:
        super().__init__(CueCache(folder, mode="tones"), RecordingPlayer())
        self.asked: list[tuple[str, object]] = []
        self.prepared: list = []

    def play(self, tone: str, speech=None) -> None:
        self.asked.append((tone, speech))
        super().play(tone, speech)

    def prepare_in_background(self, cues):
        self.prepared.extend(cues)
        return super().prepare_in_background(cues)


def run_frame(tmp_path, world, payloads: list[str], said: Said | None = None) -> tuple[list[dict], list, list]:
    factory = MockFactory()
    gate = Gate(GateSettings(output="gpio:17", pulse_ms=30), pin_factory=factory)
    core, _ = demo_core(tmp_path, world=world, gate=gate, anti_passback=True)
    try:
        out = io.StringIO()
        source = SyntheticSource([payloads], fps=None, frames=1, seed=5)
        assert GateRunner(core, [source], settings=Settings(), out=out, as_json=True,
                          sound=said).run(duration=60) == 0
        events = [json.loads(line) for line in out.getvalue().splitlines()]
        rows = list(core.visit_log.rows())
        switched = [c.state for c in factory.pin(17).states[1:]]
    finally:
        gate.close()
        core.visit_log.close()
        factory.reset()
    return events, rows, switched


def test_a_family_with_a_red_member_leaves_the_turnstile_shut(tmp_path, world) -> None:
    said = Said(tmp_path / "voice")
    events, rows, switched = run_frame(tmp_path, world, [*passenger_codes(world, 2), world.payloads["red"]], said)
    decisions = [e for e in events if e["event"] == "decision"]
    # What the console and the speaker say follows the turnstile and the log: nobody of the family is admitted.
    assert [e["admit"] for e in decisions] == [r["admit"] for r in rows] == [False, False, False]
    assert sorted(e["outcome"] for e in decisions) == sorted(r["outcome"] for r in rows) == \
        sorted([GROUP_REFUSED, GROUP_REFUSED, "red"])
    assert sorted(said.played) == ["alert", "stop", "stop"]  # the red code calls the guard; nothing says pass
    assert [tone for tone, words in said.asked if words == PROMPTS[GROUP_REFUSED]] == ["stop", "stop"]
    assert any(cue.speech == PROMPTS[GROUP_REFUSED] for cue in said.prepared)  # its voice is made beforehand
    assert [e for e in events if e["event"] == "gate"] == [] and switched == []
    assert [r["gate"] for r in rows] == [None, None, None]


def test_an_admitted_family_opens_the_turnstile_for_each_member(tmp_path, world) -> None:
    events, rows, switched = run_frame(tmp_path, world, passenger_codes(world, 3))
    assert [e["action"] for e in events if e["event"] == "gate"] == ["open"] * 3
    assert [r["gate"] for r in rows] == ["open"] * 3 and switched[0] is True
