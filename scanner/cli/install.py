"""`checkpoint install`: install the appliance (users, directories, venv, units) with systemd/install.sh.

The script ships in the source tree, not in the installed package, so this runs from a checkout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scanner.errors import InputError

INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "systemd" / "install.sh"


def register(subparsers: argparse._SubParsersAction) -> None:
    inst = subparsers.add_parser(
        "install", help="install the appliance: users, directories, venv, units (systemd/install.sh)")
    inst.add_argument("--root", metavar="DIR", help="stage everything into DIR; touch nothing else")
    inst.add_argument("--prefix", metavar="DIR", help="where the venv goes (default /opt/checkpoint)")
    inst.add_argument("--skip-python", action="store_true", help="no venv and no package install")
    inst.add_argument("--hub", action="store_true", help="also enable the reference hub")
    role = inst.add_mutually_exclusive_group()
    role.add_argument("--gate", action="store_true",
                      help="enable the screenless gate (checkpoint-gate.service) instead of the kiosk")
    role.add_argument("--kiosk", action="store_true",
                      help="enable the kiosk instead of the gate (default: the one the device has, else the "
                           "kiosk)")
    inst.add_argument("--no-apt", action="store_true", help="do not install apt packages")
    inst.add_argument("--no-enable", action="store_true", help="install the units but do not enable them")
    inst.set_defaults(func=cmd_install)


def cmd_install(args: argparse.Namespace) -> int:
    import subprocess

    if not INSTALL_SCRIPT.is_file():
        raise InputError(f"{INSTALL_SCRIPT} not found: run systemd/install.sh from a checkout of the "
                         "source (the installed package does not carry it)")
    argv = ["bash", str(INSTALL_SCRIPT)]
    if args.root:
        argv += ["--root", args.root]
    if args.prefix:
        argv += ["--prefix", args.prefix]
    for flag in ("skip_python", "hub", "gate", "kiosk", "no_apt", "no_enable"):
        if getattr(args, flag):
            argv.append("--" + flag.replace("_", "-"))
    return subprocess.run(argv, check=False).returncode
