"""The `checkpoint` shell: each sub-command imports only its own module, and the entry-point names say
which module that is."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from scanner.cli import ENTRY_POINT_GROUP, build_parser, command_modules, command_of, installed_entry_points
from scanner.demo.world import build_demo_world

ENTRY_POINTS = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


@pytest.mark.parametrize("ep", ENTRY_POINTS, ids=[ep.name for ep in ENTRY_POINTS])
def test_an_entry_point_name_names_a_command_its_module_registers(ep) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    importlib.import_module(ep.value).register(sub)
    assert command_of(ep.name) in sub.choices


def test_entry_points_are_read_as_importlib_metadata_reads_them() -> None:
    for group in (ENTRY_POINT_GROUP, "console_scripts", "pytest11"):
        expected = sorted((ep.name, ep.value) for ep in entry_points(group=group))
        assert sorted(installed_entry_points(group)) == expected, group
    assert installed_entry_points("no.such.group") == []


def test_a_named_command_loads_only_its_module() -> None:
    assert command_modules("check") == ["scanner.cli.check"]
    assert list(build_parser("check")._subparsers._group_actions[0].choices) == ["check"]  # type: ignore[union-attr]


def test_without_a_known_command_every_module_is_loaded() -> None:
    everything = [ep.value for ep in ENTRY_POINTS]
    assert command_modules(None) == everything
    assert command_modules("demo") == everything  # registered by a module whose entry point is named otherwise


def test_help_lists_every_command_and_an_unknown_command_is_named(capsys) -> None:
    from scanner.cli import main

    with pytest.raises(SystemExit) as exit_help:
        main(["--help"])
    listed = capsys.readouterr().out
    assert exit_help.value.code == 0
    for ep in ENTRY_POINTS:
        assert f"\n    {command_of(ep.name)} " in listed, ep.name
    with pytest.raises(SystemExit) as exit_bad:
        main(["chek", "HCC1:X"])
    assert exit_bad.value.code == 2
    assert "invalid choice: 'chek'" in capsys.readouterr().err


def test_what_lasting_makes_is_set_aside_from_the_collector_which_runs_again_after() -> None:
    import gc

    from scanner.cli import lasting

    try:
        with lasting():
            assert not gc.isenabled()
            made = [[] for _ in range(1000)]
        assert gc.isenabled() and gc.get_freeze_count() >= len(made)
        gc.disable()
        with lasting():
            pass
        assert not gc.isenabled()  # as it was before
    finally:
        gc.enable()
        gc.unfreeze()


def test_check_without_a_settings_file_uses_the_settings_defaults() -> None:
    from scanner.config import Settings
    from scanner.profiles import DEFAULT_PROFILE
    from scanner.verify import VerifySettings

    defaults = Settings()
    assert defaults.venue.profile == DEFAULT_PROFILE
    assert (defaults.venue.max_code_age, defaults.venue.region, defaults.profiles) == (0, "", {})
    assert VerifySettings() == VerifySettings(defaults.verify.clock_skew, defaults.verify.status_grace)


def test_check_runs_without_the_heavy_dependencies(tmp_path: Path) -> None:
    """`checkpoint check` on an HCC1 payload imports neither the QR decoders, numpy, the HTTP stacks, the
    DCC schema checker, X.509, the settings module, cryptography's OpenSSL backend module nor Qt (they cost
    start-up time on every call from a script); nor, of the standard library, hashlib (cryptography hashes),
    tempfile (only for lists too long for memory), importlib.resources, configparser or random; nor
    cryptography's RSA, the DCC revocation list or the data-directory modules."""
    world = build_demo_world(tmp_path, int(time.time()))
    args = ["check", "--anchor", str(world.anchor_path), "--trust-list", str(world.trust_list_path),
            "--status-list", str(world.status_list_paths[0]), world.payloads["green"]]
    probe = ("import sys\n"
             "from scanner.cli import main\n"
             f"rc = main({args!r})\n"
             "heavy = ('cv2', 'numpy', 'zxingcpp', 'pyzbar', 'requests', 'fastapi', 'uvicorn', 'PySide6',\n"
             "         'fastjsonschema', 'psycopg', 'jinja2')\n"
             "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}\n"
             "             | {m for m in sys.modules if m in ('cryptography.x509', 'scanner.config',\n"
             "             'cryptography.hazmat.backends.openssl.backend', 'hashlib', 'tempfile',\n"
             "             'importlib.resources', 'configparser', 'keys.dccrevocation',\n"
             "             'scanner.storage.datadir', 'random', 'cryptography.hazmat.primitives.asymmetric.rsa')}))\n"
             "sys.exit(rc)\n")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip().splitlines()
    assert "ADMIT" in out[0]
    assert out[-1] == "[]"


def test_every_command_and_option_says_what_it_is_for() -> None:
    """`checkpoint COMMAND --help lists every option` (README): an option without words showed only its
    name there (`--days DAYS`, `--force`)."""
    import argparse

    silent = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {a.dest for a in action._choices_actions if a.help}
                silent.extend(" ".join([*path, n]) for n in action.choices if n not in helped)
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif action.option_strings and action.help is None:
                silent.append(f"{' '.join(path)} {action.option_strings[0]}")

    walk(build_parser(), ["checkpoint"])
    assert silent == []
