"""`checkpoint config check|pin`: validate settings files and set the admin PIN.

`config check FILE…` reports every problem of each file on its own line, `FILE: key: problem`, and
exits 2 if there was any (bad input, as for every command). `config pin FILE` asks for the admin PIN
(twice, never on the command line, where `ps` would show it) and writes its scrypt hash into
`[admin] pin_hash`, leaving the rest of the file, comments included, as it was.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from keys.durable import atomic_write
from scanner.errors import ConfigError, InputError

if TYPE_CHECKING:
    from keys.keyfile import PublicKey
    from scanner.config import Settings

# Settings that name files the services must be able to read.
FILE_SETTINGS = ("trust.anchors", "trust.trust_list", "trust.status_lists", "hub.client_cert",
                 "hub.client_key", "hub.ca_cert")


def register(subparsers: argparse._SubParsersAction) -> None:
    config = subparsers.add_parser("config", help="validate a settings file, set the admin PIN")
    sub = config.add_subparsers(dest="config_command", metavar="ACTION")
    sub.required = True
    check = sub.add_parser("check", help="validate settings files; every problem with its key and file")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--files-exist", action="store_true",
                       help="also check what the services need to start: a trust anchor, the files named in "
                            "[trust] and [hub] readable and usable, a writable device.data_dir")
    check.set_defaults(func=cmd_check)
    pin = sub.add_parser("pin", help="set the admin PIN hash in a settings file")
    pin.add_argument("file", metavar="FILE")
    pin.add_argument("--stdin", action="store_true",
                     help="read the PIN from one line of standard input instead of asking twice")
    pin.set_defaults(func=cmd_pin)

def data_dir_problem(path: str) -> str | None:
    """Why the services could not keep their data in `path` (they create it, and any missing parents, at
    start): a file in its place or its parents', or a folder this user may not write."""
    import os

    p = Path(path)
    if p.exists():
        if not p.is_dir():
            return f"{p}: not a directory"
        return None if os.access(p, os.W_OK | os.X_OK) else f"{p}: not writable by this user"
    parent = p.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{p}: cannot be created: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{p}: cannot be created: {parent} is not writable by this user"
    return None


def file_problems(settings: Settings) -> list[str]:
    """Settings naming files that cannot be read or are not what they must be (a trust anchor that is not a
    public key, a certificate without its key), and a data directory that cannot be written."""
    from keys.errors import KeysError
    from keys.keyfile import load_public_key
    from scanner.settingchecks import device_id_problem, hub_tls_problem

    problems = []
    if problem := data_dir_problem(settings.device.data_dir):
        problems.append(f"device.data_dir: {problem}")
    if not settings.trust.anchors:
        problems.append("trust.anchors: none set: the kiosk and the gate need a trust anchor to start")
    unreadable = set()
    anchors: list[PublicKey] = []
    for key in FILE_SETTINGS:
        section, name = key.split(".")
        value = getattr(getattr(settings, section), name)
        paths = value if isinstance(value, list) else [value] if value else []
        for i, p in enumerate(paths):
            label = f"{key}[{i}]" if isinstance(value, list) else key
            try:
                with open(p, "rb"):
                    pass
            except OSError as e:
                problems.append(f"{label}: cannot read {p}: {e.strerror}")
                unreadable.add(key)
                continue
            if key == "trust.anchors":
                try:
                    anchors.append(load_public_key(p))
                except KeysError as e:
                    problems.append(f"{label}: {e}")
                    unreadable.add(key)
    if settings.trust.trust_list and anchors and not unreadable & {"trust.anchors", "trust.trust_list"}:
        from keys.trustlist import TrustStore

        try:
            TrustStore.from_file(settings.trust.trust_list, anchors)  # as the services take it at start
        except KeysError as e:
            problems.append(f"trust.trust_list: {e}")
    hub = settings.hub
    tls_set = hub.client_cert and hub.client_key and hub.ca_cert
    if tls_set and not unreadable & {"hub.client_cert", "hub.client_key", "hub.ca_cert"} and (
            problem := hub_tls_problem(hub)):
        problems.append(problem)
    if hub.client_cert and "hub.client_cert" not in unreadable and (
            problem := device_id_problem(settings.device.id, hub.client_cert)):
        problems.append(problem)
    return problems


def cmd_check(args: argparse.Namespace) -> int:
    from scanner.config import load_settings

    failed = False
    for f in args.files:
        try:
            settings = load_settings(f)
            problems = file_problems(settings) if args.files_exist else []
        except ConfigError as e:
            problems = e.problems
        for p in problems:
            print(f"{f}: {p}", file=sys.stderr)
        if problems:
            failed = True
            print(f"{f}: {len(problems)} problem{'s' if len(problems) > 1 else ''}", file=sys.stderr)
        else:
            print(f"{f}: ok")
    return 2 if failed else 0


def _read_pin(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().strip()
    import getpass

    first = getpass.getpass("New admin PIN (4-12 digits): ")
    if getpass.getpass("Repeat the PIN: ") != first:
        raise InputError("the two PINs differ; nothing changed")
    return first


_SECTION = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
_PIN_LINE = re.compile(r"^(\s*)pin_hash\s*=.*$")


def set_pin_hash(text: str, pin_hash: str) -> str:
    """The settings text with `[admin] pin_hash` set; everything else unchanged."""
    lines = text.splitlines(keepends=True)
    entry = f'pin_hash = "{pin_hash}"\n'
    section = None
    header_at = None
    for i, line in enumerate(lines):
        m = _SECTION.match(line)
        if m:
            section = m.group(1)
            if section == "admin":
                header_at = i
            continue
        if section == "admin" and (pm := _PIN_LINE.match(line)):
            lines[i] = pm.group(1) + entry
            return "".join(lines)
    if header_at is not None:
        lines.insert(header_at + 1, entry)
        return "".join(lines)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(lines) + f"\n[admin]\n{entry}"


def cmd_pin(args: argparse.Namespace) -> int:
    import tomllib

    from scanner.config import load_settings, read_settings_text
    from scanner.pin import hash_pin, pin_problem

    path = Path(args.file)
    text = read_settings_text(path)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), [f"invalid TOML: {e}; fix it before setting the PIN"]) from None
    pin = _read_pin(args.stdin)
    if problem := pin_problem(pin):
        raise InputError(f"{problem}; nothing changed")
    pin_hash = hash_pin(pin)
    new_text = set_pin_hash(text, pin_hash)
    data = tomllib.loads(new_text)
    if not isinstance(data.get("admin"), dict) or data["admin"].get("pin_hash") != pin_hash:
        raise ConfigError(str(path), ["admin: written in a form this command cannot edit; set "
                                      f'[admin] pin_hash = "{pin_hash}" by hand'])
    atomic_write(path, new_text, keep_owner=True)
    print(f"{path}: admin PIN set")
    try:
        load_settings(path)
    except ConfigError as e:
        # The PIN is set; the file had other problems before, which the operator should see now.
        for p in e.problems:
            print(f"{path}: {p}", file=sys.stderr)
        return 2
    return 0
