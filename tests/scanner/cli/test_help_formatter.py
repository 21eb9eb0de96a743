"""The command line's help formatter: argparse's text, with the terminal's width asked only for help."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from scanner.cli import ArgumentParser, build_parser
from scanner.cli.check import register


def _parser(cls: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = cls(prog="checkpoint", description="Offline health-code checkpoint scanner.")
    parser.add_argument("--debug", action="store_true", help="show internal details of failures")
    # As build_parser adds them (argparse would write the same prog out with a formatter).
    register(parser.add_subparsers(dest="command", metavar="COMMAND",
                                   prog="checkpoint" if cls is ArgumentParser else None))
    return parser


@pytest.mark.parametrize("columns", ["40", "80", "200"])
def test_help_and_usage_are_argparse_s_own_at_the_terminal_s_width(columns: str, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    ours, theirs = _parser(ArgumentParser), _parser(argparse.ArgumentParser)
    assert ours.format_help() == theirs.format_help() and ours.format_usage() == theirs.format_usage()
    sub = next(a for a in ours._actions if isinstance(a, argparse._SubParsersAction))
    their_sub = next(a for a in theirs._actions if isinstance(a, argparse._SubParsersAction))
    assert type(sub.choices["check"]) is ArgumentParser  # sub-command parsers are of the same class
    assert sub.choices["check"].format_help() == their_sub.choices["check"].format_help()


def test_building_and_using_the_check_parser_asks_no_terminal_width() -> None:
    code = ("import sys; from scanner.cli import build_parser; "
            "build_parser('check').parse_args(['check', '--anchor', 'a.pem', '-']); print('shutil' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert "usage: checkpoint" in build_parser("check").format_usage()
