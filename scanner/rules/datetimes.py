"""CertLogic's date-times: the date(-time) strings it accepts, `plusTime` arithmetic and `dccDateOfBirth`.

A date-time is a whole number of milliseconds since 1970-01-01T00:00:00Z, like a JavaScript `Date`,
because the specification defines `plusTime` through `Date`'s `setUTC…` methods: months and years are
added on the calendar and an impossible day rolls over (2020-02-29 + 1 year is 2021-03-01, 2021-01-31
+ 1 month is 2021-03-03), days and hours are exact multiples of 24 h and 1 h in UTC. Calendar maths
uses integer day counts (no `datetime`), so no amount, however large, overflows; results outside
JavaScript's range (±8.64e15 ms) are refused as JavaScript refuses them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from scanner.errors import CertLogicError

TIME_UNITS = ("year", "month", "day", "hour")
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR
# JavaScript's Date holds at most 8.64e15 ms either side of the epoch.
JS_DATE_LIMIT = 8_640_000_000_000_000

# YYYY, YYYY-MM, YYYY-MM-DD, and YYYY-MM-DDThh:mm:ss[.S…][Z|±h|±hh|±hmm|±hhmm|±h:mm|±hh:mm]
_DATE_TIME = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})"
    r"(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{1,2}(?::?\d{2})?)?)?)?)?",
    re.ASCII,
)


@dataclass(frozen=True, order=True)
class DateTime:
    """An instant with millisecond precision, as `plusTime` and `dccDateOfBirth` make them."""

    ms: int

    def iso(self) -> str:
        """The instant as JavaScript's `toISOString` writes it (what JSON output of a date-time shows)."""
        days, rest = divmod(self.ms, MS_PER_DAY)
        y, m, d = civil_from_days(days)
        hours, rest = divmod(rest, MS_PER_HOUR)
        minutes, rest = divmod(rest, 60_000)
        seconds, millis = divmod(rest, 1000)
        year = f"{y:04d}" if 0 <= y <= 9999 else f"{'-' if y < 0 else '+'}{abs(y):06d}"
        return f"{year}-{m:02d}-{d:02d}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm; any year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> tuple[int, int, int]:
    """The (year, month, day) of a day count since 1970-01-01 (the inverse of `days_from_civil`)."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def days_in_month(y: int, m: int) -> int:
    return days_from_civil(y + (m == 12), m % 12 + 1, 1) - days_from_civil(y, m, 1)


def _checked(ms: int) -> DateTime:
    if abs(ms) > JS_DATE_LIMIT:
        raise CertLogicError("date-time out of range")
    return DateTime(ms)


def _offset_minutes(text: str) -> int:
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:]
    if ":" in digits:
        hours, minutes = digits.split(":")
    elif len(digits) <= 2:
        hours, minutes = digits, "0"
    else:
        hours, minutes = digits[:-2], digits[-2:]
    if int(minutes) > 59 or int(hours) > 23:
        raise CertLogicError(f"invalid time zone offset {text!r}")
    return sign * (int(hours) * 60 + int(minutes))


@lru_cache(maxsize=4096)
def parse_date_time(text: str) -> DateTime:
    """A date(-time) string in one of the specification's formats as a `DateTime`.

    A partial date is the last day it could be (`YYYY` is 31 December, `YYYY-MM` the month's last
    day); a date is midnight; no offset means UTC; decimals past the third are cut, not rounded.
    Impossible dates and times (2021-02-30, 25:00) are refused: the specification leaves them undefined.
    """
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise CertLogicError(f"not a date or date-time in an allowed format: {text[:40]!r}")
    year_s, month_s, day_s, hh, mm, ss, fraction, offset = match.groups()
    year = int(year_s)
    month = int(month_s) if month_s else 12
    if not 1 <= month <= 12:
        raise CertLogicError(f"invalid month in {text!r}")
    last_day = days_in_month(year, month)
    day = int(day_s) if day_s else last_day
    if not 1 <= day <= last_day:
        raise CertLogicError(f"invalid day in {text!r}")
    hours, minutes, seconds = (int(hh), int(mm), int(ss)) if hh else (0, 0, 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise CertLogicError(f"invalid time in {text!r}")
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    local = ((days_from_civil(year, month, day) * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000 + millis
    return _checked(local - _offset_minutes(offset or "Z") * 60_000)


def plus_time(moment: DateTime, amount: int, unit: str) -> DateTime:
    """`moment` moved by `amount` units, as `Date.setUTC<unit>(getUTC<unit>() + amount)` moves it."""
    if unit == "hour":
        return _checked(moment.ms + amount * MS_PER_HOUR)
    if unit == "day":
        return _checked(moment.ms + amount * MS_PER_DAY)
    if unit not in ("month", "year"):
        raise CertLogicError(f"unknown time unit {unit!r}")
    days, time_of_day = divmod(moment.ms, MS_PER_DAY)
    y, m, d = civil_from_days(days)
    months = y * 12 + (m - 1) + (amount if unit == "month" else amount * 12)
    new_year, new_month = divmod(months, 12)
    # Day 1 of the target month plus (d - 1) days: an impossible day rolls into the next month.
    new_days = days_from_civil(new_year, new_month + 1, 1) + d - 1
    return _checked(new_days * MS_PER_DAY + time_of_day)


def dcc_date_of_birth(text: str) -> DateTime:
    """A DCC's `dob` (YYYY, YYYY-MM or YYYY-MM-DD) at midnight UTC of the last day it could be.

    Date-times (which early DCC schemas allowed in `dob`) are read as `plusTime` reads them.
    """
    return parse_date_time(text)
