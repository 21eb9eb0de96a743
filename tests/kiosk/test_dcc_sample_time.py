"""A test certificate's sample time on the result screen: the device's local time, whatever offset the issuer wrote."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from keys.dcc import payload_test
from scanner.verify import Verdict, verify_code
from tests.helpers.dcc import NOW, DccWorld, code
from ui.model.dccview import key_fact

WORLD = DccWorld()
DSC = WORLD.add("DE")
TRUST = WORLD.trust()


@pytest.fixture
def shanghai(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def fact_for(sample_time: object) -> str:
    hcert = payload_test("DE", "URN:UVCI:01:DE:T#1", sample_time="2021-06-01T10:00:00Z")
    hcert["t"][0]["sc"] = sample_time
    result = verify_code(code(DSC, hcert), TRUST, None, NOW, max_code_age=None)
    assert result.verdict is Verdict.OK and result.dcc is not None
    fact = key_fact(result.dcc)
    assert fact is not None
    return fact.en


@pytest.mark.parametrize("written", ["2021-06-01T08:00:00Z", "2021-06-01T10:00:00+02:00", "2021-06-01T10:00:00+0200",
                                     "2021-06-01T03:00:00-05", "2021-06-01T08:00:00.123456Z", "2021-06-01T08:00:00",
                                     datetime(2021, 6, 1, 8, tzinfo=UTC)])
def test_every_offset_an_issuer_writes_is_shown_as_the_same_local_time(shanghai: None, written: object) -> None:
    # 08:00 UTC is 16:00 in Shanghai (UTC+8), however the certificate spells it (the datetime is a CBOR
    # date-time, tag 0); no offset means UTC.
    assert fact_for(written) == "PCR negative, sampled 2021-06-01 16:00"


@pytest.mark.parametrize("written, shown", [("yesterday", "yesterday"), ("", "?"), (None, "?"),
                                            ("2021-06-01", "2021-06-01")])
def test_a_sample_time_that_is_no_date_time_is_shown_as_written(shanghai: None, written: object, shown: str) -> None:
    assert fact_for(written) == f"PCR negative, sampled {shown}"
