"""The import rules of the architecture: no Qt outside ui/ (nor in ui/model/), dependencies pointing one way.

A reference counts whether it is an import statement or a string naming a module (`importlib.import_module
("ui.demo")`, an entry-point value, a patch target): the core must not know the packages built on it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.helpers import REPO as ROOT

QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")
# package -> packages it must never import
FORBIDDEN = {"keys": ("scanner", "sync", "ui", *QT), "scanner": ("sync", "ui", *QT), "sync": ("ui", *QT),
             "ui/model": QT}
# A string constant that names a module of a forbidden package: "ui", "ui.demo", "sync.agent:main".
MODULE_STRING = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_.]*)?(:[A-Za-z_][A-Za-z0-9_]*)?$")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def module_strings_of(path: Path) -> set[str]:
    """Top-level package names of string constants that look like dotted module paths ("ui.demo")."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            m = MODULE_STRING.match(node.value.strip())
            if m and (m.group(2) or m.group(3)):
                names.add(m.group(1))
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_one_way(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no modules found in {package}/"
    bad = {f"{p.relative_to(ROOT)} imports {name}" for p in files for name in imports_of(p)
           if name in FORBIDDEN[package]}
    assert not bad, "\n".join(sorted(bad))


@pytest.mark.parametrize("package", ["keys", "scanner"])
def test_core_never_names_the_packages_built_on_it(package: str) -> None:
    bad = {f"{p.relative_to(ROOT)} names {name!r} in a string" for p in sorted((ROOT / package).rglob("*.py"))
           for name in module_strings_of(p) if name in ("sync", "ui")}
    assert not bad, "\n".join(sorted(bad))


def test_the_checker_sees_a_module_name_in_a_string(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('import importlib\nimportlib.import_module("ui.demo")\nSECTION = "sync"\n', encoding="utf-8")
    assert module_strings_of(sample) == {"ui"}  # a bare word (a settings section) is not a module path


def test_sub_commands_come_from_entry_points() -> None:
    from importlib.metadata import entry_points

    modules = {ep.value for ep in entry_points(group="checkpoint.commands")}
    assert {"scanner.cli.check", "keys.cli", "sync.cli", "ui.cli"} <= modules


def test_checker_import_pulls_in_no_qt() -> None:
    import subprocess
    import sys

    code = ("import sys, scanner.checker, scanner.cli, keys.cli; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_test_modules_share_helpers_only_through_tests_helpers() -> None:
    # A test module imported by another runs its fixtures and module set-up twice and ties the two
    # together; what two test modules share lives in tests/helpers/.
    bad = []
    for p in sorted((ROOT / "tests").rglob("*.py")):
        if "helpers" in p.relative_to(ROOT / "tests").parts:
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            bad += [f"{p.relative_to(ROOT)}: {n}" for n in names
                    if n.startswith("tests.") and not n.startswith("tests.helpers")]
    assert bad == []
