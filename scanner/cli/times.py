"""Times a person types: `check --at`, `log export --since`, `hub visits --since/--until` and the operator's
visits search all read them here, the same way."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from scanner.clock import LATEST_PLAUSIBLE_TIME
from scanner.errors import InputError

# The last second a date can name (9999-12-31 23:59:59 UTC); a later or negative time is a typo.
LATEST_UNIX_S = int(LATEST_PLAUSIBLE_TIME)


def parse_instant(text: str, option: str) -> float:
    """Unix seconds, or an ISO 8601 date or time (UTC unless it names a zone), from 1970 to 9999.
    `InputError` naming `option` otherwise: NaN or a time no date can name would pass or break every
    comparison made with it."""
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            seconds = math.nan
        else:
            seconds = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if not 0 <= seconds <= LATEST_UNIX_S:  # NaN fails this too
        raise InputError(f"{option} {text!r}: expected Unix seconds or an ISO 8601 date or time such as "
                         "2026-01-31 or 2026-01-31T08:00:00+08:00")
    return seconds


def parse_instant_ms(text: str, option: str) -> int:
    """`parse_instant` in whole milliseconds, as the visit logs keep times."""
    return int(parse_instant(text, option) * 1000)
