"""The HCC1 claims held to a plain reading of docs/format.md §2, on signed codes with any mix of odd claims.

`spec_verdict` is the table of §2 read literally: each claim's type and range, `v` first (an unknown claims
version is `unsupported` whatever else is wrong), unknown keys ignored. A code whose claims pass it must
get a verdict past decoding (the signature is good), and one that fails it must get exactly its verdict.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys.hcc1 import encode_payload, sign_cose
from keys.keyfile import generate_key
from keys.publishing import KeyEntry, sign_trust_list
from keys.trustlist import TrustStore
from scanner.verify import verify_code

NOW = 1_800_000_000
KEY = generate_key("ES256")
ROOT = generate_key("ES256")
TRUST = TrustStore.from_document(
    sign_trust_list(ROOT, [KeyEntry(KEY.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=0, not_after=2**40)],
                    version=1, issued_at=NOW, next_update=NOW + 60), [ROOT.public_key()])
RELATIONS = (1, 2, 3, 4, 5, 6, 9)


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _uint(v: object) -> bool:
    return _int(v) and v >= 0  # type: ignore[operator]


def _bytes16(v: object) -> bool:
    return isinstance(v, bytes) and len(v) == 16


def spec_verdict(cwt: dict) -> str | None:
    """§2 read literally: "unsupported", "malformed", or None when the claims are well formed."""
    hc = cwt.get(-65537)
    if not isinstance(hc, dict) or not _uint(hc.get("v")):
        return "malformed"
    if hc["v"] != 1:
        return "unsupported"
    g = hc.get("g", {"n": "", "r": 1, "sub": bytes(16)})
    checks = [
        isinstance(cwt.get(1), str) and cwt[1] != "",  # the project's reading: an empty issuer names no region
        _int(cwt.get(6)), _int(cwt.get(4)), _bytes16(cwt.get(7)),
        _bytes16(hc.get("sub")), isinstance(hc.get("n"), str),
        _uint(hc.get("s")) and hc["s"] <= 2, _int(hc.get("sd")), _uint(hc.get("t")) and hc["t"] <= 1,
        isinstance(g, dict) and isinstance(g.get("n"), str) and _uint(g.get("r")) and g["r"] in RELATIONS
        and _bytes16(g.get("sub")),  # g's table marks none of n, r, sub optional (only g itself is)
    ]
    return None if all(checks) else "malformed"


ODD = st.one_of(st.none(), st.booleans(), st.integers(-3, 12), st.integers(2**63, 2**65), st.floats(allow_nan=False),
                st.text(max_size=3), st.binary(min_size=15, max_size=17), st.lists(st.integers(), max_size=2),
                st.just({}))


def claim(good: object) -> st.SearchStrategy[object]:
    return st.one_of(st.just(good), st.just(good), ODD)


CWT = st.fixed_dictionaries({}, optional={1: claim("CN-ZJ"), 6: claim(NOW - 60), 4: claim(NOW + 3600),
                                          7: claim(os.urandom(16))})
GUARDIAN = st.fixed_dictionaries({"n": claim("李*华"), "r": claim(1)}, optional={"sub": claim(os.urandom(16))})
HC = st.fixed_dictionaries({}, optional={"v": claim(1), "sub": claim(os.urandom(16)), "n": claim("张*三"),
                                         "s": claim(0), "sd": claim(NOW - 60), "t": claim(0),
                                         "g": st.one_of(GUARDIAN, ODD), "zz": ODD})


@given(CWT, HC)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_claims_verdict_is_a_plain_reading_of_the_format(cwt: dict, hc: dict) -> None:
    cwt = {**cwt, -65537: hc}
    expected = spec_verdict(cwt)
    r = verify_code(encode_payload(sign_cose(cwt, KEY)), TRUST, None, NOW, max_code_age=None)
    if expected is None:
        assert r.verdict.value not in ("unsupported", "malformed"), r.reasons
    else:
        assert r.verdict.value == expected, r.reasons
