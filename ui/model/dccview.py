"""What an EU DCC adds to the result screen, decided without Qt.

The guard compares the Latin-script name (the result's `person` line: a DCC's name is its ICAO
transliteration) and the date of birth with a passport; then come the certificate type with its one
deciding fact (dose n/m and date, test type/result and sample time, recovery validity) and the country
code. A refusal by a business rule already shows the rule's own words as the result's reason
(`scanner.policy`), so they are not repeated here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keys.localtext import LocalText
from scanner.errors import CertLogicError
from scanner.rules.datetimes import parse_date_time

if TYPE_CHECKING:
    from scanner.codes.dcc import DccInfo
    from scanner.verify import VerifyResult

TYPE_TEXT = {
    "vaccination": LocalText("疫苗接种证书", "Vaccination certificate"),
    "test": LocalText("检测证书", "Test certificate"),
    "recovery": LocalText("康复证书", "Recovery certificate"),
}
# Value-set codes a guard meets daily; anything else is shown as given.
TEST_TYPES = {"LP6464-4": LocalText("核酸(PCR)", "PCR"), "LP217198-3": LocalText("抗原快速检测", "rapid antigen")}
TEST_RESULTS = {"260415000": LocalText("阴性", "negative"), "260373001": LocalText("阳性", "positive")}
DOB = LocalText("出生日期", "Born")
UNKNOWN_TYPE = LocalText("证书类型不明", "Certificate type unclear")


def _date(v: object) -> str:
    return str(v)[:10] if v else "?"


def _sample_time(v: object) -> str:
    """When a test's sample was taken, as the device's clock tells time: issuers write it with any UTC offset
    (or none, which is UTC), and a guard weighs it against the clock on the wall. Anything else as written."""
    if not isinstance(v, str) or not v:
        return "?"
    if "T" in v:
        try:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(parse_date_time(v).ms / 1000))
        except (CertLogicError, OverflowError, OSError, ValueError):
            pass
    return v[:40]


def key_fact(info: DccInfo) -> LocalText | None:
    """The one fact that decides whether this certificate counts, in both languages."""
    f = info.facts
    if info.type == "vaccination":
        n, m = f.get("dose", "?"), f.get("doses", "?")
        return LocalText(f"第 {n}/{m} 剂，{_date(f.get('date'))}", f"Dose {n}/{m} on {_date(f.get('date'))}")
    if info.type == "test":
        tt = TEST_TYPES.get(str(f.get("test_type")), LocalText(str(f.get("test_type", "?")),
                                                               str(f.get("test_type", "?"))))
        tr = TEST_RESULTS.get(str(f.get("result")), LocalText(str(f.get("result", "?")), str(f.get("result", "?"))))
        when = _sample_time(f.get("sample_time"))
        return LocalText(f"{tt.zh} {tr.zh}，采样 {when}", f"{tt.en} {tr.en}, sampled {when}")
    if info.type == "recovery":
        return LocalText(f"有效 {_date(f.get('valid_from'))} 至 {_date(f.get('valid_until'))}",
                         f"Valid {_date(f.get('valid_from'))} to {_date(f.get('valid_until'))}")
    return None


@dataclass(frozen=True)
class DccView:
    dob: str
    kind: LocalText
    fact: LocalText | None
    country: str

    def lines(self) -> list[str]:
        out = [f"{DOB.zh} {DOB.en} {self.dob or '?'}", f"{self.kind.zh} / {self.kind.en}"]
        if self.fact:
            out += [self.fact.zh, self.fact.en]
        if self.country:
            out.append(self.country)
        return out


def dcc_view(result: VerifyResult, signed: bool) -> DccView | None:
    """The DCC part of a result screen; None for other formats and for DCCs that could not be decoded.

    A code whose signature was not verified (`signed` False) only claims its contents: then neither its
    facts nor its country are shown.
    """
    info = result.dcc
    if info is None:
        return None
    kind = TYPE_TEXT.get(info.type or "", UNKNOWN_TYPE)
    return DccView(dob=info.dob, kind=kind,
                   fact=key_fact(info) if signed else None, country=info.country if signed else "")
