"""Numbers typed on the command line (`scanner.cli.argtypes`). A duration is a finite number of seconds above
0: `nan` ran `gate` and `scan` with no limit at all, `inf` likewise, and 0 or less stopped `gate` at once
with exit 0."""

from __future__ import annotations

import pytest

from scanner.cli import build_parser

COMMANDS = [
    ["gate", "--config", "c.toml", "--duration"],
    ["scan", "--source", "stdin", "--duration"],
    ["demo", "--duration"],
    ["demo", "--scene-seconds"],
    ["kiosk", "--config", "c.toml", "--duration"],
]


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w[:1] + w[-1:]))
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "1e300", "soon"])
def test_a_duration_that_is_no_time_is_refused_with_the_option_named(
        words: list[str], value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser(words[0]).parse_args([*words[:-1], f"{words[-1]}={value}"])
    assert e.value.code == 2
    option = words[-1]
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"checkpoint {words[0]}: error: argument {option}: {value!r} is not a number of seconds above 0 "
        "and at most 604800 (a week)")


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w[:1] + w[-1:]))
def test_a_duration_of_seconds_passes(words: list[str]) -> None:
    args = build_parser(words[0]).parse_args([*words, "2.5"])
    assert getattr(args, words[-1][2:].replace("-", "_")) == 2.5


@pytest.mark.parametrize(("option", "value", "problem"), [
    ("--port", "70000", "is not a TCP port, 0 to 65535"),
    ("--port", "8\u00b2", "is not a TCP port, 0 to 65535"),  # a digit to str.isdigit(), not to int()
    ("--workers", "0", "is not a whole number, 1 or more"),
    ("--list-cache", "nan", "is not a number of seconds, 0 or more"),
    ("--max-clock-ahead", "-5", "is not a number of seconds, 0 or more"),
])
def test_the_hub_s_numbers_are_read_by_the_same_types(option: str, value: str, problem: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser("hub").parse_args(["hub", "serve", "--db", "h.sqlite", f"{option}={value}"])
    assert capsys.readouterr().err.endswith(f"argument {option}: {value!r} {problem}\n")


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5", "1001", "fast"])
def test_a_replay_rate_that_is_no_rate_is_refused(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`scan --fps nan` or `-5` is named: taken as it is, it would replay every frame unpaced, as if --fps
    were not given."""
    with pytest.raises(SystemExit):
        build_parser("scan").parse_args(["scan", "--source", "dir:x", f"--fps={value}"])
    assert capsys.readouterr().err.endswith(
        f"argument --fps: {value!r} is not a number of frames per second above 0 and at most 1000\n")
    assert build_parser("scan").parse_args(["scan", "--source", "dir:x", "--fps", "0.5"]).fps == 0.5
