"""`code_lifetime`: the longest a code may live after its key retired, as its docstring states it, for every
combination of limits."""

from __future__ import annotations

import itertools

from keys.localtext import LocalText
from keys.trustlist import DEFAULT_CARD_LIFETIME, TrustKey
from scanner.verify import code_lifetime


def test_the_key_s_limit_unless_the_venue_s_maximum_age_ends_a_personal_code_first() -> None:
    for card, age, lifetime in itertools.product((False, True), (None, 0, 60, 3600, 10**6), (None, 0, 3600, 10**5)):
        key = TrustKey(kid=b"k", issuer="CN-ZJ", name=LocalText("浙江", "Zhejiang"), alg="ES256", public_key=None,  # type: ignore[arg-type]
                       not_before=0, not_after=1, use=frozenset({"code"}), max_code_lifetime=lifetime)
        if not card and age and not (lifetime and lifetime < age):
            assert code_lifetime(key, card, age) is None  # staleness refuses it first
        else:
            assert code_lifetime(key, card, age) == (lifetime or DEFAULT_CARD_LIFETIME)
