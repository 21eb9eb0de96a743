"""`checkpoint check --at TIME`: every judgement made with a clock is made at TIME, the status lists' too."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pytest

from keys.hcc1 import CodeClaims, issue_code
from keys.keyfile import generate_key, write_public_key
from keys.publishing import KeyEntry, sign_status_list, sign_trust_list
from scanner.cli import check
from scanner.cli.times import parse_instant
from scanner.errors import InputError
from scanner.verify import Status, Verdict

DAY = 86400


def _checker(tmp_path: Path, at: int, key_window: tuple[int, int], signed_at: int):
    """A checker at `at` on a trust list whose one key is valid over `key_window`, and a status list
    signed at `signed_at` that revokes a personal code and lists a printed card red, both issued just
    before it; the two codes."""
    root, zj = generate_key("ES256"), generate_key("ES256")
    entry = KeyEntry(zj.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=key_window[0], not_after=key_window[1])
    (tmp_path / "tl.json").write_text(json.dumps(
        sign_trust_list(root, [entry], version=1, issued_at=at - DAY, next_update=at + DAY)))
    write_public_key(tmp_path / "root.pem", root)
    card = CodeClaims(iss="CN-ZJ", iat=signed_at - DAY, exp=at + 30 * DAY, card=True)
    personal = CodeClaims(iss="CN-ZJ", iat=signed_at - 600, exp=at + DAY)
    (tmp_path / "sl.json").write_text(json.dumps(sign_status_list(
        zj, issuer="CN-ZJ", version=5, issued_at=signed_at, next_update=at + 3600,
        subjects=[(card.sub, 2, signed_at - 120)], revoked=[personal.cti])))
    parser = argparse.ArgumentParser()
    check.register(parser.add_subparsers())
    args = parser.parse_args(["check", "--at", str(at), "--anchor", str(tmp_path / "root.pem"), "--trust-list",
                              str(tmp_path / "tl.json"), "--status-list", str(tmp_path / "sl.json"), "x"])
    return check.checker_from_args(args), issue_code(zj, card), issue_code(zj, personal)


def test_a_status_list_is_judged_at_the_time_asked_for_not_the_machine_s(tmp_path: Path, capsys) -> None:
    # The key signing the list was retired long before this machine's clock, but not at --at.
    at = int(time.time()) - 200 * DAY
    checker, card, personal = _checker(tmp_path, at, (at - 100 * DAY, at + 100 * DAY), at - 60)
    assert "ignored" not in capsys.readouterr().err
    c = checker.check(card).result
    assert c.verdict is Verdict.OK and c.status is Status.RED
    assert checker.check(personal).result.verdict is Verdict.REVOKED


def test_a_key_retired_at_the_time_asked_for_signs_no_status_list(tmp_path: Path, capsys) -> None:
    # The list was signed while its key was valid; the key is still valid by this machine's clock, but
    # retired at --at (in the future).
    at = int(time.time()) + 400 * DAY
    checker, card, _ = _checker(tmp_path, at, (at - 500 * DAY, at - 30 * DAY), at - 31 * DAY)
    assert "retired" in capsys.readouterr().err
    assert checker.check(card).result.verdict is Verdict.STATUS_UNVERIFIED


@pytest.mark.parametrize("text", ["nan", "inf", "1e400", "-Infinity"])
def test_a_time_that_is_not_a_finite_number_is_refused_by_name(text: str) -> None:
    # Compared with NaN, no code would ever be expired or issued in the future.
    with pytest.raises(InputError, match=f"--at '{text}'"):
        parse_instant(text, "--at")


@pytest.mark.parametrize("text, seconds", [("1767225600", 1767225600), (" 1767225600.5 ", 1767225600.5),
                                           ("2026-01-01T08:00:00+08:00", 1767225600),
                                           ("2026-01-01T00:00:00", 1767225600), ("2026-01-01", 1767225600)])
def test_unix_seconds_and_iso_times(text: str, seconds: float) -> None:
    assert parse_instant(text, "--at") == seconds


@pytest.mark.parametrize("text", ["-1", "1e15", "1969-12-31T23:59:59Z"])
def test_a_time_no_date_after_1970_can_name_is_refused_by_name(text: str) -> None:
    # The same reading as the visit searches' --since (scanner.cli.times): a typo, not a time to judge codes at.
    with pytest.raises(InputError, match=f"--at '{text}'"):
        parse_instant(text, "--at")
