"""What the appliance says and which tone it plays, per venue profile and outcome. No Qt, no audio.

A cue is a tone (`TONES`) and, optionally, words. The words for a decision are the headline the
screen shows, turned into speech ("绿码 请通行" is said "绿码，请通行"), so the voice can never
contradict the screen and a profile the hub publishes or the config overrides speaks its own words.
A few prompts are not decisions (`PROMPTS`: "show your code", "already checked", "already admitted",
"your group is not admitted").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keys.localtext import LocalText
from scanner.gate.grouping import GROUP_REFUSED
from scanner.gate.repeats import ALREADY_ADMITTED
from scanner.policy import VenueProfile

# Tone files in `scanner/sound/tones/` (made by scripts/make_sounds.py).
TONES = ("pass", "stop", "alert", "check", "repeat")
MODES = ("tones", "voice", "both")
LANGUAGES = ("zh", "en", "both")

PROMPTS: dict[str, LocalText] = {
    "show_code": LocalText("请出示健康码", "Please show your health code"),
    "repeat": LocalText("已核验", "Already checked"),
    "already_admitted": LocalText("已通行，请勿重复刷码", "Already admitted"),
    GROUP_REFUSED: LocalText("同行人员未全部通过，请等候", "Your group is not admitted"),
}


@dataclass(frozen=True)
class Cue:
    """One thing to play: a tone and the words after it (None: the tone alone)."""

    tone: str
    speech: LocalText | None = None

    def __post_init__(self) -> None:
        if self.tone not in TONES:
            raise ValueError(f"unknown tone {self.tone!r} (expected one of {', '.join(TONES)})")


def tone_for(*, admit: bool, alert: bool, check: bool = False) -> str:
    """The tone a decision plays: the alarm when the guard must come, a manual check, else pass or stop."""
    if alert:
        return "alert"
    if admit:
        return "pass"
    return "check" if check else "stop"


def spoken(text: LocalText) -> LocalText:
    """Screen words as speech: a dash or a gap between phrases becomes a pause (a comma)."""
    zh = re.sub(r"\s*[—–]\s*|\s+", "，", text.zh.strip())
    en = re.sub(r"\s+[—–]\s+", ", ", text.en.strip())
    return LocalText(zh, en)


def decision_words(outcome: str, headline: LocalText) -> LocalText:
    """What a decision says: its headline, but for a code admitted already the fixed prompt. That headline holds
    a time of day ("Already admitted at 08:12"): a voice file for every minute, made while the person waits.
    A member held back with its refused family keeps its own (admitting) headline, so it says the group's."""
    if outcome == ALREADY_ADMITTED:
        return PROMPTS["already_admitted"]
    return PROMPTS[GROUP_REFUSED] if outcome == GROUP_REFUSED else headline


def decision_cue(*, admit: bool, alert: bool, headline: LocalText, check: bool = False) -> Cue:
    return Cue(tone_for(admit=admit, alert=alert, check=check), spoken(headline))


def profile_cues(profile: VenueProfile) -> dict[str, Cue]:
    """Every outcome of a venue profile -> the cue it plays."""
    return {outcome: decision_cue(admit=r.admit, alert=r.alert_guard, headline=r.headline,
                                  check=r.tone.value == "check")
            for outcome, r in profile.rules.items()}


# A repeat is a short blip; a code admitted earlier and shown again calls the guard.
PROMPT_TONES = {"show_code": "stop", "repeat": "repeat", "already_admitted": "alert", GROUP_REFUSED: "stop"}


def prompt_cue(name: str) -> Cue:
    return Cue(PROMPT_TONES[name], PROMPTS[name])
