"""The shapes of the hub's answers, checked before the agent uses a single field.

A hub (or whatever answers in its place) may send anything: `[1, 2, 3]` for the time, `"acked": 5`, a
list nested 100,000 deep. Each answer is validated with a pydantic model; a mismatch becomes one
`HubRefused` naming the endpoint and the first problem, which the agent records and backs off from.
Unknown extra fields are allowed (a newer hub may add some).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from scanner.clock import LATEST_PLAUSIBLE_TIME, MIN_PLAUSIBLE_TIME
from sync.errors import HubRefused

HEX64 = r"^[0-9a-f]{64}$"
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class TimeAnswer(_Answer):
    time: float

    @field_validator("time", mode="before")
    @classmethod
    def _finite(cls, v: object) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError("not a finite number of seconds")
        if not MIN_PLAUSIBLE_TIME <= v <= LATEST_PLAUSIBLE_TIME:  # the trusted clock would refuse it
            raise ValueError("not a time from 2020 to 9999")
        return float(v)


class ChainBreak(_Answer):
    model_config = ConfigDict(extra="allow")
    seq: int | None = None
    visit_id: str | None = None
    problem: str | None = None


class SeqReason(_Answer):
    model_config = ConfigDict(extra="allow")
    seq: int | None = None
    reason: str | None = None


class UploadAck(_Answer):
    """The hub's answer to POST /v1/visits (older hubs send only the first six fields)."""

    device_id: str
    received: Count
    stored: Count
    duplicates: Count
    acked: list[Annotated[str, Field(max_length=64)]] = Field(max_length=100_000)
    chain_breaks: list[ChainBreak] = Field(default_factory=list, max_length=100_000)
    log_id: str | None = None
    conflicts: list[SeqReason] = Field(default_factory=list, max_length=100_000)
    refused: list[SeqReason] = Field(default_factory=list, max_length=100_000)
    gaps: list[tuple[int, int]] = Field(default_factory=list, max_length=100_000)
    last_seq: Count | None = None
    last_chain: Annotated[str, Field(pattern=HEX64)] | None = None


class RoundChanged(_Answer):
    trust_list: bool = False
    profiles: bool = False
    rules: bool = False
    dcc_revocation: bool = False
    status: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=1000)


class Admission(_Answer):
    code_id: Annotated[str, Field(max_length=128)]
    ts_ms: Count
    device_id: Annotated[str, Field(max_length=64)]


class RoundAnswer(_Answer):
    """The hub's answer to POST /v1/round: its time, what changed since the device's versions."""

    time: float
    changed: RoundChanged
    admissions: list[Admission] = Field(default_factory=list, max_length=100_000)
    # When present: the hub's time the admissions were read and the site they are of (the next round's
    # `admissions_since` and `admissions_site`); the admissions are only those received since the round's
    # `admissions_since` if it sent one for this same site.
    admissions_until: Count | None = None
    admissions_site: Annotated[str, Field(max_length=200)] | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _finite(cls, v: object) -> float:
        return TimeAnswer._finite(v)


class StatusIndex(_Answer):
    pass


class ProfilesDoc(_Answer):
    version: Count
    profiles: dict[str, Any]


M = TypeVar("M", bound=BaseModel)


def parse_answer(model: type[M], body: bytes, what: str, status: int = 200) -> M:
    """Validate an answer's JSON against `model`; any problem is a `HubRefused` naming `what`."""
    try:
        return model.model_validate_json(body)
    except ValidationError as e:
        first = e.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
        raise HubRefused(status, f"{what}: malformed answer ({where}: {first.get('msg')})") from None
    except RecursionError:
        raise HubRefused(status, f"{what}: malformed answer (nested too deeply)") from None
