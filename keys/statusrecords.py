"""What the status store answers: the list held for an issuer, the facts about one code, an applied list."""

from __future__ import annotations

from keys.frozen import frozen

# What `apply` reports for the DCC revocation list, which belongs to no HCC1 issuer.
DCC_REVOCATION_ISSUER = "EU-DCC"


@frozen
class IssuerInfo:
    """The status list held for an issuer: its version and when it was issued, is due and was applied."""

    issuer: str
    version: int
    issued_at: int
    next_update: int
    applied_at: float

    def is_fresh(self, now: float, grace: float = 0) -> bool:
        return now <= self.next_update + grace


@frozen
class StatusFacts:
    """What the held lists say about one code: its issuer's list, whether it is revoked, its subject's entry."""

    info: IssuerInfo | None
    revoked: bool
    entry: tuple[int, int] | None


@frozen
class ApplyResult:
    """What one applied list held."""

    issuer: str
    version: int
    snapshot: bool
    subjects: int
    revoked: int
