"""DCC payloads (hcert) of each type for business-rule tests, and EU rules built field by field.

The payloads follow the DCC schema 1.3 (vaccination `v`, test `t`, recovery `r`); times are given as
offsets from a chosen instant so every test states its own clock.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

DOSE_DATE = "2021-06-01"
NAME = {"fn": "Musterfrau", "fnt": "MUSTERFRAU", "gn": "Erika", "gnt": "ERIKA"}


def at(text: str) -> float:
    """Unix seconds of an ISO date-time (UTC when it has no offset)."""
    d = datetime.fromisoformat(text)
    return (d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vaccination(dn: int = 2, sd: int = 2, dt: str = DOSE_DATE, mp: str = "EU/1/20/1528") -> dict[str, Any]:
    return {"ver": "1.3.0", "nam": dict(NAME), "dob": "1964-08-12",
            "v": [{"tg": "840539006", "vp": "1119349007", "mp": mp, "ma": "ORG-100030215", "dn": dn, "sd": sd,
                   "dt": dt, "co": "DE", "is": "Robert Koch-Institut",
                   "ci": "URN:UVCI:01DE/IZ12345A/5CWLU12RNOB9RXSEOP6FG8#W"}]}


def lab_test(sampled: float, tt: str = "LP6464-4", tr: str = "260415000") -> dict[str, Any]:
    return {"ver": "1.3.0", "nam": dict(NAME), "dob": "1964-08-12",
            "t": [{"tg": "840539006", "tt": tt, "nm": "Roche LightCycler qPCR", "sc": iso(sampled), "tr": tr,
                   "tc": "Testzentrum Köln Hbf", "co": "DE", "is": "Robert Koch-Institut",
                   "ci": "URN:UVCI:01DE/IBMT102/18Q12HTUJ7NDXSTF2YQGYA7#M"}]}


def recovery(first_positive: str, valid_from: str, valid_until: str) -> dict[str, Any]:
    return {"ver": "1.3.0", "nam": dict(NAME), "dob": "1964-08",
            "r": [{"tg": "840539006", "fr": first_positive, "co": "DE", "is": "Robert Koch-Institut",
                   "df": valid_from, "du": valid_until, "ci": "URN:UVCI:01DE/5CWLU12RNOB9RXSEOP6FG8#W"}]}


BASE_RULE: dict[str, Any] = {
    "Identifier": "VR-CN-0901", "Type": "Acceptance", "Country": "CN", "Version": "1.0.0",
    "SchemaVersion": "1.0.0", "Engine": "CERTLOGIC", "EngineVersion": "1.3.3", "CertificateType": "Vaccination",
    "Description": [{"lang": "en", "desc": "A test rule"}, {"lang": "zh", "desc": "测试规则"}],
    "ValidFrom": "2021-01-01T00:00:00Z", "ValidTo": "2030-01-01T00:00:00Z", "AffectedFields": ["v.0"],
    "Logic": True,
}


def make_rule(**changes: Any) -> dict[str, Any]:
    """An EU rule: BASE_RULE with `changes` (a value of None removes the field)."""
    rule = copy.deepcopy(BASE_RULE)
    for key, value in changes.items():
        if value is None:
            rule.pop(key, None)
        else:
            rule[key] = value
    return rule
