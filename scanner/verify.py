"""Verification of a scanned code: the checks of `docs/format.md` §5, in order, giving a frozen `VerifyResult`.

Pure and deterministic: it maps (payload, trust store, status store, now, max code age) to a verdict,
the effective status (§4.5) and reasons. The first failing check wins, in the order of §5.2: unsupported,
malformed, unknown_key, key_not_valid, bad_signature, revoked, not_yet_valid, expired, stale,
status_unverified, ok. The venue's policy (admit or not, what to show) is `scanner.policy`'s job.
"""

from __future__ import annotations

from dataclasses import field
from enum import StrEnum
from typing import TYPE_CHECKING

from keys.frozen import frozen
from keys.jsontypes import JsonObject
from keys.localtext import LocalText
from keys.signing import verify_raw
from keys.trustlist import DEFAULT_CARD_LIFETIME, TrustKey, TrustStore
from scanner.codes import DCC_PREFIX, CodeError, DecodedCode, Guardian, decode_text, normalise

if TYPE_CHECKING:
    # Types only: the DCC decoder (and its schema checker) loads when a DCC is first verified.
    from keys.statusstore import StatusStore
    from scanner.codes.dcc import DccInfo
    from scanner.dcc import DccVerifier


class Verdict(StrEnum):
    OK = "ok"
    UNSUPPORTED = "unsupported"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    KEY_NOT_VALID = "key_not_valid"
    BAD_SIGNATURE = "bad_signature"
    REVOKED = "revoked"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    STALE = "stale"
    STATUS_UNVERIFIED = "status_unverified"
    # Verified, but refused by one of the venue's business rules (scanner.rules); set by the Checker.
    RULES = "rules"


class Status(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


STATUS_BY_CODE = {0: Status.GREEN, 1: Status.YELLOW, 2: Status.RED}


class CodeType(StrEnum):
    PERSONAL = "personal"
    CARD = "card"


# Members read for every code checked, as module names: in Python 3.11 an attribute of an enum class is
# looked up through its metaclass's `__getattr__` hook, several times slower than a global.
_OK, _CARD, _PERSONAL = Verdict.OK, CodeType.CARD, CodeType.PERSONAL


@frozen
class VerifySettings:
    """The tolerances of verification, in seconds."""

    clock_skew: int = 300
    status_grace: int = 0


@frozen
class VerifyResult:
    """The verdict on one code, with what the code said (for the screen, the log and `--json`)."""

    verdict: Verdict
    status: Status | None = None
    reasons: tuple[str, ...] = ()
    format: str | None = None
    issuer: str | None = None
    issuer_name: LocalText | None = None
    name: str | None = None
    code_type: CodeType | None = None
    guardian: Guardian | None = None
    code_id: bytes | None = None
    subject: bytes | None = None
    iat: int | None = None
    exp: int | None = None
    kid: bytes | None = None
    trust_list_version: int | None = None
    status_list_version: int | None = None
    # An EU DCC's contents (type, names, payload for the business rules); None for other formats.
    dcc: DccInfo | None = None
    # The failed business rule's description, when the verdict is RULES (what the screen shows).
    failed_rule: LocalText | None = None
    extra: JsonObject = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK

    def to_json(self) -> JsonObject:
        g = self.guardian
        # Enum members' `_value_`: `.value` is a property written in Python (`checkpoint check --json`
        # calls this for every line).
        return {
            "format": self.format,
            "verdict": self.verdict._value_,
            "status": self.status._value_ if self.status else None,
            "issuer": self.issuer,
            "issuer_name": self.issuer_name.to_json() if self.issuer_name else None,
            "name": self.name,
            "type": self.code_type._value_ if self.code_type else None,
            "guardian": ({"name": g.name, "relation": g.relation, "relation_name": g.relation_name}
                         if g else None),
            "code_id": self.code_id.hex() if self.code_id else None,
            "subject": self.subject.hex() if self.subject else None,
            "iat": self.iat,
            "exp": self.exp,
            "kid": self.kid.hex() if self.kid else None,
            # A DCC's notes (its schema check) are reported with the reasons whatever the verdict.
            "reasons": [*self.reasons, *self.dcc.notes] if self.dcc is not None else list(self.reasons),
            "trust_list_version": self.trust_list_version,
            "status_list_version": self.status_list_version,
            "failed_rule": self.failed_rule.to_json() if self.failed_rule else None,
            **({"dcc": self.dcc.to_json()} if self.dcc is not None else {}),
        }


def code_lifetime(key: TrustKey, card: bool, max_code_age: int | None) -> int | None:
    """The longest a code of this type signed by `key` may live, seconds; None when the venue's maximum code
    age is what ends it.

    Cards: the key's `max_code_lifetime`, else 400 days. Personal codes: the key's `max_code_lifetime` when
    it is shorter than the venue's maximum code age; None when the venue has a maximum no longer than the
    key's (a code past it is `stale`, the verdict docs/format.md §5 gives it: a key valid at `iat` retired
    no earlier, so a code that old is past the venue's maximum anyway); else the key's, else 400 days.
    """
    limit = key.max_code_lifetime
    if card:
        return limit or DEFAULT_CARD_LIFETIME
    if max_code_age:
        return limit if limit and limit < max_code_age else None
    return limit or DEFAULT_CARD_LIFETIME


def _select_key(code: DecodedCode, trust: TrustStore, now: float,
                max_code_age: int | None) -> tuple[TrustKey | None, str | None]:
    """The trust-list key allowed to have signed this code, or why none is.

    Validity at `iat` alone would let a retired key's holder backdate codes, so a key is also refused
    once `now` is past its not_after by more than the longest lifetime a code of this type may have.
    """
    candidates = trust.keys_for(code.kid)
    if not candidates:
        return None, "unknown_key"
    c = code.claims
    reasons = []
    for k in candidates:
        if "code" not in k.use:
            reasons.append(f"key {k.kid.hex()} may not sign codes (use: {', '.join(sorted(k.use))})")
        elif k.issuer != c.issuer:
            reasons.append(f"key {k.kid.hex()} belongs to {k.issuer}, not {c.issuer}")
        elif k.alg != code.alg:
            reasons.append(f"key {k.kid.hex()} is {k.alg}, the code says {code.alg}")
        elif not k.valid_at(c.iat):
            reasons.append(f"key {k.kid.hex()} was not valid at the code's issue time")
        elif (lifetime := code_lifetime(k, c.card, max_code_age)) is not None and k.retired_for(now, lifetime):
            reasons.append(f"key {k.kid.hex()} retired at {k.not_after}; no code it signed may live "
                           f"longer than {lifetime} s after that")
        else:
            return k, None
    return None, "; ".join(reasons)


_DCC_VERIFIER: DccVerifier | None = None


def _dcc_verifier() -> DccVerifier:
    """`scanner.dcc.verify_dcc`, imported when the first DCC is verified: it builds on this module's result
    types, and a command that never meets a DCC need not load its decoder. Kept here once imported, as an
    import statement costs a tenth of the rest of a DCC's check."""
    global _DCC_VERIFIER
    from scanner.dcc import verify_dcc

    _DCC_VERIFIER = verify_dcc
    return verify_dcc


def verify_code(payload: str | bytes, trust: TrustStore, status: StatusStore | None, now: float, *,
                max_code_age: int | None, settings: VerifySettings = VerifySettings()) -> VerifyResult:
    """Run the checks of `docs/format.md` §5 on a scanned payload. `max_code_age` None or 0 means no limit."""
    tl_version = trust.version
    try:
        text = normalise(payload)
    except CodeError as e:
        return VerifyResult(verdict=Verdict(e.verdict), reasons=(e.reason,), trust_list_version=tl_version)
    if text.startswith(DCC_PREFIX):
        return (_DCC_VERIFIER or _dcc_verifier())(text, trust, status, now, settings=settings)
    try:
        code = decode_text(text)
    except CodeError as e:
        return VerifyResult(verdict=Verdict(e.verdict), reasons=(e.reason,), trust_list_version=tl_version)

    c = code.claims
    issuer_name = trust.issuer_name(c.issuer)

    def fail(verdict: Verdict, reason: str, status_list_version: int | None = None) -> VerifyResult:
        return _result(verdict, None, (reason,), code, issuer_name, tl_version, status_list_version)

    key, why = _select_key(code, trust, now, max_code_age)
    if key is None:
        if why == "unknown_key":
            return fail(Verdict.UNKNOWN_KEY, f"no trust-list key with kid {code.kid.hex()}")
        return fail(Verdict.KEY_NOT_VALID, why or "key not valid")
    if not verify_raw(key.public_key, code.signature, code.signed_data):
        return fail(Verdict.BAD_SIGNATURE, "signature does not verify")

    facts = status.facts(c.issuer, c.code_id, c.subject) if status is not None else None
    info = facts.info if facts else None
    sl_version = info.version if info else None
    if facts is not None and facts.revoked:
        return fail(Verdict.REVOKED, "code id is revoked in the issuer's status list", sl_version)
    if c.iat > now + settings.clock_skew:
        return fail(Verdict.NOT_YET_VALID, f"issued {int(c.iat - now)} s in the future", sl_version)
    if now > c.exp:
        return fail(Verdict.EXPIRED, f"expired {int(now - c.exp)} s ago", sl_version)
    if not c.card and max_code_age and now - c.iat > max_code_age:
        return fail(Verdict.STALE, f"code is {int(now - c.iat)} s old; this venue accepts {max_code_age} s",
                    sl_version)

    entry = facts.entry if facts else None
    if c.card:
        # A printed card's colour lives in the status list; without a fresh list it is unknown.
        if info is None:
            return fail(Verdict.STATUS_UNVERIFIED, f"no status list held for {c.issuer}", sl_version)
        if not info.is_fresh(now, settings.status_grace):
            return fail(Verdict.STATUS_UNVERIFIED,
                        f"status list for {c.issuer} is stale (next update was due {info.next_update})", sl_version)
        effective = entry[0] if entry else 0
        reasons = ("status from the issuer's status list",)
    elif entry is not None and entry[1] > c.iat:
        effective = entry[0]
        reasons = ("status list entry is newer than the code",)
    else:
        effective = c.status
        reasons = ("status from the code",)
    return _result(_OK, STATUS_BY_CODE[effective], reasons, code, issuer_name, tl_version, sl_version)


def _result(verdict: Verdict, status: Status | None, reasons: tuple[str, ...], code: DecodedCode,
            issuer_name: LocalText | None, tl_version: int | None, sl_version: int | None) -> VerifyResult:
    """The result for a decoded code: the verdict and what the code said. Fields in order, without
    keywords (a third cheaper; this runs for every code checked)."""
    c = code.claims
    return VerifyResult(verdict, status, reasons, code.format, c.issuer, issuer_name, c.name,
                        _CARD if c.card else _PERSONAL, c.guardian, c.code_id, c.subject, c.iat,
                        c.exp, code.kid, tl_version, sl_version)
