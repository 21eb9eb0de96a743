"""The checkpoint's one question, "may this person enter?", with everything it needs bound together.

`Checker` holds the trust store, the status store, the rules list, the venue profile, the verification
settings and the clock, and turns a scanned payload into a `Decision`. The pipeline, the kiosk and the CLI all go
through it, so they can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scanner.clock import Clock, SystemClock
from scanner.policy import Decision, VenueProfile, decide
from scanner.verify import VerifySettings, verify_code

if TYPE_CHECKING:
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore
    from scanner.rules.ruleslist import RulesStore


@dataclass
class Checker:
    trust: TrustStore
    status: StatusStore | None
    profile: VenueProfile
    settings: VerifySettings = VerifySettings()
    clock: Clock = SystemClock()
    # 0 keeps the profile's own maximum code age (config `venue.max_code_age`, CLI `--max-code-age`).
    max_code_age: int = 0
    # The signed rules list; the profile's rule sets are applied to verified codes while one is held.
    rules: RulesStore | None = None
    # The venue's region for rules with a Region (config `venue.region`).
    region: str = ""

    @property
    def effective_max_code_age(self) -> int:
        return self.max_code_age or self.profile.max_code_age

    def check(self, payload: str | bytes, now: float | None = None) -> Decision:
        at = self.clock.now() if now is None else now
        result = verify_code(payload, self.trust, self.status, at, max_code_age=self.effective_max_code_age,
                             settings=self.settings)
        book = self.rules.book if self.rules is not None else None
        if book is not None:
            # The rules engine loads only where a rules list is held (`checkpoint check` without one
            # starts faster).
            from scanner.rules.verdict import apply_rules

            result = apply_rules(result, book, self.profile.rule_sets, at, region=self.region)
        return decide(result, self.profile, clock_trusted=self.clock.trusted())
