"""The `checkpoint` command: a thin shell that finds sub-commands and turns errors into clear messages.

Every sub-command lives in a module with `register(subparsers)`, which adds its parser and sets
`func=handler`; a handler takes the parsed arguments and returns the exit code. Modules import their
heavy dependencies inside the handlers, so `checkpoint check` starts fast. The modules of this package:

    check.py    `checkpoint check`: verify codes against given anchors, lists and time
    decode.py   `checkpoint decode`: QR codes from image files
    scan.py     `checkpoint scan`: the scanning pipeline, headless
    log.py      `checkpoint log verify / export`
    config.py   `checkpoint config check / pin`
    install.py  `checkpoint install`: the appliance, with systemd/install.sh
    rules.py    `checkpoint rules eval / sign-list / show`: CertLogic expressions, signed rules lists

Other packages add theirs through the same entry points (`keys.cli`, `sync.cli`, `ui.cli`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence

# Sub-command modules are found through the "checkpoint.commands" entry points (pyproject.toml), so the
# core never names the packages that build on it. Each entry point is a module with `register(subparsers)`;
# they are registered in the order of their names, which is the order `--help` lists them in.
ENTRY_POINT_GROUP = "checkpoint.commands"


def command_modules() -> list[str]:
    from importlib.metadata import entry_points

    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    if not found:
        raise RuntimeError(f"no '{ENTRY_POINT_GROUP}' entry points: is the checkpoint package installed?")
    return [ep.value.split(":")[0] for ep in found]


EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERNAL = 70


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="checkpoint",
        description="Offline health-code checkpoint scanner.",
    )
    parser.add_argument("--debug", action="store_true", help="show internal details of failures")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in command_modules():
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
