"""Every `checkpoint …` command line in the README and docs/ names a sub-command and options that exist: a
deployment engineer copies them as they are."""

from __future__ import annotations

import argparse
import re

from scanner.cli import build_parser
from tests.helpers import REPO

PAGES = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
# `checkpoint` and what follows it on the line, up to the end of the command (a pipe, a comment, a code span's
# end, a table cell's end, a redirection or another command).
COMMAND = re.compile(r"(?<![\w/.-])checkpoint((?:[ \t]+[^\s|`#;&>]+)+)")
OPTION = re.compile(r"^(--[a-z][a-z0-9-]*)")


def _sub_commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


def documented_commands() -> list[tuple[str, int, list[str]]]:
    found: list[tuple[str, int, list[str]]] = []
    for page in PAGES:
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            found.extend((page.name, n, m.group(1).split()) for m in COMMAND.finditer(line))
    return found


def test_documented_command_lines_name_real_sub_commands_and_options() -> None:
    root = build_parser()
    wrong = []
    checked = 0
    for page, line, words in documented_commands():
        parser, path = root, ["checkpoint"]
        for word in words:
            sub = _sub_commands(parser).get(word)
            if sub is None:
                break
            parser, path = sub, [*path, word]
        if parser is root:
            continue  # prose ("checkpoint scanner software"), not a command line
        checked += 1
        known = _options(parser)
        for word in words[len(path) - 1:]:
            m = OPTION.match(word.lstrip("[("))
            if m and m.group(1) not in known:
                wrong.append(f"{page}:{line}: `{' '.join(path)}` has no option {m.group(1)}")
    assert checked > 50  # the pattern still finds the documented commands
    assert not wrong, "\n".join(wrong)
