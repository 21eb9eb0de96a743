"""Structured service logs: one logfmt or JSON line per record on stdout, for journald, without personal data.

`configure_logging(settings.log)` is what the long-running commands (kiosk, sync) call first. Fields
come from the record and from `extra={...}`; fields that could carry personal data (names, payloads,
subjects, guardians) are replaced by "[redacted]", and anything that looks like a health-code payload
in a message is masked too, so a careless log call cannot leak who passed the gate. Under systemd,
each line starts with a `<N>` syslog priority that journald turns into the entry's priority
(`journalctl -p warning` works); the timestamp stays in the line for logs read elsewhere.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

from keys.jsontypes import JsonObject
from scanner.config import LogSettings

REDACTED = "[redacted]"
# Field names that may hold personal data (also as a suffix: `holder_name`, `guardian_sub`): redacted
# whatever a caller passes in `extra=`.
PERSONAL_FIELDS = frozenset({
    "name", "names", "payload", "code", "subject", "sub", "guardian", "guardians", "card", "pin",
    "pin_hash", "phone", "id_number", "text", "raw",
})
_PAYLOAD = re.compile(r"HC[A-Z0-9]{1,3}:[0-9A-Z $%*+\-./:]{6,}(?<! )")
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
_BARE = re.compile(r"[^\s\"=\\]+")


def redact(text: str) -> str:
    """Mask health-code payloads inside free text."""
    return _PAYLOAD.sub(lambda m: m.group(0).split(":", 1)[0] + ":" + REDACTED, text)


def _personal(key: str) -> bool:
    k = key.lower()
    return k in PERSONAL_FIELDS or any(k.endswith("_" + f) for f in PERSONAL_FIELDS)


def _logfmt_value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if text and _BARE.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class StructuredFormatter(logging.Formatter):
    """Formats a record as `ts=… level=… logger=… msg="…" key=value …` or as one JSON object."""

    def __init__(self, fmt: str = "logfmt", *, priority_prefix: bool = False):
        super().__init__()
        if fmt not in ("logfmt", "json"):
            raise ValueError(f"unknown log format {fmt!r}")
        self.fmt = fmt
        self.priority_prefix = priority_prefix

    def fields(self, record: logging.LogRecord) -> JsonObject:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        out: JsonObject = {
            "ts": ts.replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_") or key in out:
                continue
            if _personal(key):
                out[key] = REDACTED
            elif isinstance(value, str):
                out[key] = redact(value)
            elif value is None or isinstance(value, bool | int | float):
                out[key] = value
            else:
                out[key] = redact(str(value))
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return out

    def format(self, record: logging.LogRecord) -> str:
        data = self.fields(record)
        if self.fmt == "json":
            line = json.dumps(data, ensure_ascii=False, default=str)
        else:
            line = " ".join(f"{k}={_logfmt_value(v)}" for k, v in data.items())
        if self.priority_prefix:
            line = f"<{_PRIORITY.get(record.levelno, 6)}>{line}"
        return line


def stream_is_journal(stream: TextIO, env: dict[str, str] | None = None) -> bool:
    """True when `stream` is the journald stream systemd connected (`$JOURNAL_STREAM` = dev:inode)."""
    value = (os.environ if env is None else env).get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return st.st_dev == dev and st.st_ino == ino


def configure_logging(settings: LogSettings | None = None, *, stream: TextIO | None = None,
                      level: str | None = None) -> logging.Handler:
    """Send every log record to `stream` (stdout by default) in the configured format and level.

    Replaces handlers installed before (e.g. by `logging.basicConfig` in the CLI) so nothing is
    logged twice. Returns the handler.
    """
    settings = settings or LogSettings()
    out = sys.stdout if stream is None else stream
    handler = logging.StreamHandler(out)
    handler.setFormatter(StructuredFormatter(settings.format, priority_prefix=stream_is_journal(out)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel((level or settings.level).upper())
    return handler
