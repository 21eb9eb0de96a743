"""`code_lifetime`: the longest a code may live, as its docstring states it, for every combination of limits."""

from __future__ import annotations

import itertools

from keys.localtext import LocalText
from keys.trustlist import DEFAULT_CARD_LIFETIME, TrustKey
from scanner.verify import code_lifetime


def test_the_smaller_of_the_limits_set_else_400_days() -> None:
    for card, age, lifetime in itertools.product((False, True), (None, 0, 60, 10**6), (None, 0, 3600, 10**5)):
        key = TrustKey(kid=b"k", issuer="CN-ZJ", name=LocalText("浙江", "Zhejiang"), alg="ES256", public_key=None,  # type: ignore[arg-type]
                       not_before=0, not_after=1, use=frozenset({"code"}), max_code_lifetime=lifetime)
        limits = [v for v in ((lifetime,) if card else (age, lifetime)) if v]
        assert code_lifetime(key, card, age) == (min(limits) if limits else DEFAULT_CARD_LIFETIME)
