"""Structured logs: logfmt and JSON lines, levels from the config, personal data never written."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator

import pytest

from scanner.config import LogSettings
from scanner.service.logsetup import StructuredFormatter, configure_logging, redact, stream_is_journal

PAYLOAD = "HCC1:6BFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3DSPTLRR+%3"


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_logfmt_lines_with_fields_and_redaction(restore_root: None) -> None:
    out = io.StringIO()
    configure_logging(LogSettings(level="info", format="logfmt"), stream=out)
    log = logging.getLogger("scanner.test")
    log.debug("not shown")
    log.info("decision made for %s", PAYLOAD, extra={"outcome": "green", "latency_ms": 12.5,
                                                     "holder_name": "张*", "subject": "abc"})
    (line,) = out.getvalue().splitlines()
    assert line.startswith("ts=")
    assert " level=info logger=scanner.test " in line
    assert 'msg="decision made for HCC1:[redacted]"' in line
    assert "outcome=green latency_ms=12.5" in line
    assert "holder_name=[redacted]" in line and "subject=[redacted]" in line
    assert "6BFOXN" not in line and "张" not in line


def test_json_lines_and_exceptions(restore_root: None) -> None:
    out = io.StringIO()
    configure_logging(LogSettings(level="warning", format="json"), stream=out)
    log = logging.getLogger("sync.test")
    log.info("hidden")
    try:
        raise ValueError(f"bad payload {PAYLOAD}")
    except ValueError:
        log.exception("upload failed", extra={"batch": 3, "payload": PAYLOAD})
    (line,) = out.getvalue().splitlines()
    doc = json.loads(line)
    assert doc["level"] == "error" and doc["logger"] == "sync.test" and doc["msg"] == "upload failed"
    assert doc["batch"] == 3 and doc["payload"] == "[redacted]"
    assert "ValueError" in doc["exc"] and "6BFOXN" not in line
    assert doc["ts"].endswith("Z")


def test_level_override_and_handler_replacement(restore_root: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(LogSettings(), stream=first)
    configure_logging(LogSettings(), stream=second, level="debug")
    logging.getLogger("x").debug("once")
    assert first.getvalue() == "" and "msg=once" in second.getvalue()


def test_priority_prefix_for_journald() -> None:
    fmt = StructuredFormatter("logfmt", priority_prefix=True)
    rec = logging.LogRecord("k", logging.WARNING, __file__, 1, "camera lost", None, None)
    assert fmt.format(rec).startswith("<4>ts=")


def test_journal_stream_detection(tmp_path) -> None:
    with open(tmp_path / "f", "w") as f:
        st = os.fstat(f.fileno())
        assert stream_is_journal(f, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not stream_is_journal(f, {"JOURNAL_STREAM": "1:2"})
        assert not stream_is_journal(f, {})
    assert not stream_is_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})


def test_redact_leaves_ordinary_text_alone() -> None:
    assert redact("synced 500 visits to HCC hub") == "synced 500 visits to HCC hub"
    assert redact(f"x {PAYLOAD} y") == "x HCC1:[redacted] y"


def test_logfmt_quoting() -> None:
    fmt = StructuredFormatter("logfmt")
    rec = logging.LogRecord("k", logging.INFO, __file__, 1, 'say "hi"\nback\\slash', None, None)
    rec.empty = ""
    line = fmt.format(rec)
    assert 'msg="say \\"hi\\"\\nback\\\\slash"' in line
    assert 'empty=""' in line
