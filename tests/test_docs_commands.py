"""Every `checkpoint …` command line in the README and docs/ names a sub-command and options that exist, and
one in a shell block parses whole; the units and installer options the pages name exist: a deployment
engineer copies them as they are."""

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


SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell|console)\s*$")


def documented_shell_commands() -> list[tuple[str, int, list[str]]]:
    """`checkpoint` command lines in the pages' shell blocks: what an engineer pastes into a terminal, so
    each must parse whole (required options, values of the right kind), not only name real options."""
    import shlex

    found = []
    for page in PAGES:
        fence: str | None = None  # the open block's fence line, None outside blocks
        pending, start = "", 0
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("```"):  # fences are indented inside list items
                fence = line.lstrip() if fence is None else None
                continue
            if fence is None or not SHELL_BLOCK.match(fence):
                continue
            if not pending:
                start = n
            pending += line.split(" #")[0]
            if pending.endswith("\\"):  # continued on the next line
                pending = pending[:-1] + " "
                continue
            text, pending = pending, ""
            lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            words = list(lexer)
            while words and words[0] == "sudo":
                words = words[3:] if words[1:2] == ["-u"] else words[1:]
            if not words or words[0].rsplit("/", 1)[-1] != "checkpoint":
                continue
            # The command ends at a redirection, a pipe or the next command.
            cut = next((i for i, w in enumerate(words) if w and set(w) <= set("<>|&;")), len(words))
            found.append((page.name, start, words[1:cut]))
    return found


def test_documented_shell_command_lines_parse_as_written() -> None:
    import contextlib
    import io

    root = build_parser()
    failed = []
    commands = documented_shell_commands()
    for page, line, words in commands:
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                root.parse_args(words)
        except SystemExit as e:
            if e.code:
                failed.append(f"{page}:{line}: checkpoint {' '.join(words)}: {err.getvalue().strip().splitlines()[-1]}")
    assert len(commands) > 15
    assert not failed, "\n".join(failed)


def test_documented_units_and_installer_options_exist() -> None:
    """The commands around `checkpoint`: `systemctl start checkpoint-sync`, `journalctl -u checkpoint-kiosk`
    and `install.sh --gate` name units and options the repository ships."""
    units = {p.stem for p in (REPO / "systemd").glob("*.service")}
    installer = (REPO / "systemd" / "install.sh").read_text(encoding="utf-8")
    unit = re.compile(r"(?<![\w-])checkpoint-[a-z]+(?![\w*-])")
    named, wrong = [], []
    for page in PAGES:
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for m in re.finditer(r"\b(?:systemctl|journalctl)\b([^`|#]*)", line):
                named += [(page.name, n, u.removesuffix(".service")) for u in unit.findall(m.group(1))]
            for m in re.finditer(r"install\.sh((?:\s+--[a-z-]+)+)", line):
                named += [(page.name, n, o) for o in m.group(1).split()]
    for page, n, name in named:
        known = name in units if name.startswith("checkpoint-") else re.search(
            rf"^\s+{re.escape(name)}\)", installer, re.M)
        if not known:
            wrong.append(f"{page}:{n}: {name}")
    assert len(named) > 10
    assert not wrong, "\n".join(wrong)
