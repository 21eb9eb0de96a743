"""The `checkpoint` command: a thin shell that finds sub-commands and turns errors into clear messages.

Every sub-command lives in a module with `register(subparsers)`, which adds its parser and sets
`func=handler`; a handler takes the parsed arguments and returns the exit code. Modules import their
heavy dependencies inside the handlers, so `checkpoint check` starts fast. The modules of this package:

    check.py    `checkpoint check`: verify codes against given anchors, lists and time
    decode.py   `checkpoint decode`: QR codes from image files
    scan.py     `checkpoint scan`: the scanning pipeline, headless
    gate.py     `checkpoint gate`: the screenless gate, one JSON event per line
    jsonline.py `check --json`'s line for a decision, encoded quickly
    log.py      `checkpoint log verify / export`
    times.py    times a person types (`--at`, `--since`, `--until`, the operator search), read one way
    argtypes.py argparse types for durations, seconds, ports and counts typed as options
    config.py   `checkpoint config check / pin`
    install.py  `checkpoint install`: the appliance, with systemd/install.sh
    rules.py    `checkpoint rules eval / sign-list / show`: CertLogic expressions, signed rules lists

Other packages add theirs through the same entry points (`keys.cli`, `sync.cli`, `ui.cli`).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# Sub-command modules are found through the "checkpoint.commands" entry points (pyproject.toml), so the
# core never names the packages that build on it. Each entry point is a module with `register(subparsers)`;
# they are registered in the order of their names, which is the order `--help` lists them in. A name is
# "NN-COMMAND": when the command line names a COMMAND, only its module is imported (`checkpoint check`
# then never loads the hub, the kiosk or the QR decoder); otherwise every module is.
ENTRY_POINT_GROUP = "checkpoint.commands"


def command_of(entry_point_name: str) -> str:
    """The sub-command an entry point's name ("10-check") stands for ("check")."""
    return entry_point_name.partition("-")[2] or entry_point_name


def installed_entry_points(group: str) -> list[tuple[str, str]]:
    """(name, value) of every entry point in `group`: what `importlib.metadata.entry_points(group=group)`
    finds, read from the distributions' `entry_points.txt` on `sys.path` directly.

    importlib.metadata loads the email package to read metadata this lookup never needs, which cost a
    quarter of `checkpoint check`'s start-up. As there, the first distribution of a name on `sys.path`
    wins, and a file is read line by line as its `Sectioned` reads it: stripped lines, `#` comments
    skipped, `[group]` headers, `name = value` (tests/scanner/cli/test_commands.py holds the two to the
    same answer).
    """
    import os
    import re

    header = f"[{group}]"
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip file, a missing directory
            continue
        for name in names:
            stem, _, kind = name.rpartition(".")
            if kind not in ("dist-info", "egg-info"):
                continue
            dist = re.sub(r"[-_.]+", "_", stem.partition("-")[0]).lower()
            if dist in seen:
                continue
            seen.add(dist)
            try:
                with open(os.path.join(entry or ".", name, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            if header not in text:  # read only the few files that name the group
                continue
            section = None
            for line in map(str.strip, text.splitlines()):
                if not line or line.startswith("#"):
                    continue
                if line.startswith("[") and line.endswith("]"):
                    section = line.strip("[]")
                elif section == group and "=" in line:
                    key, _, value = line.partition("=")
                    found.append((key.strip(), value.strip()))
    return found


def command_modules(command: str | None = None) -> list[str]:
    """The sub-command modules in `--help` order; with `command`, only its module when one matches."""
    found = sorted(installed_entry_points(ENTRY_POINT_GROUP))
    if not found:
        raise RuntimeError(f"no '{ENTRY_POINT_GROUP}' entry points: is the checkpoint package installed?")
    chosen = [ep for ep in found if command_of(ep[0]) == command] or found
    return [value.split(":")[0].strip() for _, value in chosen]


def _named_command(argv: Sequence[str]) -> str | None:
    """The first word of the command line that is not an option: the sub-command, if there is one."""
    return next((a for a in argv if not a.startswith("-")), None)


@contextmanager
def lasting() -> Iterator[None]:
    """Make objects that live as long as the process (modules, the parser, a command's keys and stores).

    The garbage collector does not run meanwhile, and what was made is then set aside from its later
    passes (`gc.freeze`), the last of which walks every object at exit: passes over objects that never
    become garbage were a tenth of a one-code `checkpoint check`. Garbage made later is collected as ever.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERNAL = 70


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, asking the terminal's width only when it writes help or usage (all of which
    happens in `format_help`): argparse makes a formatter for every option added, only to check it, and
    asking the width imports shutil and the compression modules it loads, a fiftieth of a one-code
    `checkpoint check`. tests/scanner/cli holds its text to argparse's own."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width=80 if width is None else width)
        self._width_known = width is not None
        self._asked_position = max_help_position

    def format_help(self) -> str:
        if not self._width_known:
            import shutil

            # As argparse's own constructor sets them.
            self._width = shutil.get_terminal_size().columns - 2
            self._max_help_position = min(self._asked_position, max(self._width - 20, self._indent_increment * 2))
            self._width_known = True
        return super().format_help()


class ArgumentParser(argparse.ArgumentParser):
    """A parser using `HelpFormatter` unless told otherwise; its sub-command parsers are of this class too
    (`add_subparsers` makes them of its parser's class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with `command` one holding only that sub-command (if it is one)."""
    parser = ArgumentParser(
        prog="checkpoint",
        description="Offline health-code checkpoint scanner.",
    )
    parser.add_argument("--debug", action="store_true", help="show internal details of failures")
    # The sub-commands' usage starts with `prog`, which argparse would otherwise write out with a formatter
    # (the parser's usage without options: the same word), asking the terminal's width.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog=parser.prog)
    sub.required = True
    for name in command_modules(command):
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    with lasting():
        parser = build_parser(_named_command(argv))
        args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # Imported late: these pull in the packages' error modules only, which are cheap.
    from keys.errors import KeysError
    from scanner.errors import CheckpointError

    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (CheckpointError, KeysError) as e:
        print(f"checkpoint: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:
        # A bug, not bad input: say so plainly; the traceback is for --debug.
        if args.debug:
            traceback.print_exc()
        print(f"checkpoint: internal error: {type(e).__name__}: {e} (run with --debug for details)",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
