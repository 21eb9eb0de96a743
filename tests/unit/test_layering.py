"""The import rules of the architecture: no Qt outside ui/, and dependencies pointing one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")
# package -> packages it must never import
FORBIDDEN = {"keys": ("scanner", "sync", "ui", *QT), "scanner": ("sync", "ui", *QT), "sync": ("ui", *QT)}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_one_way(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no modules found in {package}/"
    bad = {f"{p.relative_to(ROOT)} imports {name}" for p in files for name in imports_of(p)
           if name in FORBIDDEN[package]}
    assert not bad, "\n".join(sorted(bad))


def test_checker_import_pulls_in_no_qt() -> None:
    import subprocess
    import sys

    code = ("import sys, scanner.checker, scanner.cli, keys.cli; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
