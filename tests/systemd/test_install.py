"""`systemd/install.sh --root DIR`: the staged install's paths, modes, unit files, users and idempotence."""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import subprocess
from pathlib import Path

from scanner.config import Settings, load_settings
from tests.helpers import REPO

INSTALL = REPO / "systemd/install.sh"
UNITS = ["checkpoint-kiosk.service", "checkpoint-gate.service", "checkpoint-sync.service", "checkpoint-hub.service"]


def install(root: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALL), "--root", str(root), "--skip-python", *extra],
                          capture_output=True, text=True, timeout=120)


def staged(root: Path, *extra: str) -> Path:
    result = install(root, *extra)
    assert result.returncode == 0, result.stderr
    return root


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = (oct(stat.S_IMODE(st.st_mode)), "dir")
        else:
            out[rel] = (oct(stat.S_IMODE(st.st_mode)), path.read_text())
    return out


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_staged_install_paths_modes_and_files(tmp_path: Path) -> None:
    root = staged(tmp_path / "root")
    for unit in UNITS:
        installed = root / "etc/systemd/system" / unit
        assert installed.read_text() == (REPO / "systemd" / unit).read_text()
        assert mode(installed) == 0o644
    config = root / "etc/checkpoint/config.toml"
    assert config.read_text() == (REPO / "config.example.toml").read_text()
    assert mode(config) == 0o640  # holds the PIN hash and key paths: not world-readable
    assert dataclasses.replace(load_settings(config), source="<defaults>") == Settings()
    assert mode(root / "etc/checkpoint") == 0o755
    assert mode(root / "var/lib/checkpoint") == 0o750
    assert mode(root / "etc/checkpoint/device") == 0o750
    assert (root / "etc/checkpoint/kiosk.env").read_text() == (REPO / "systemd/kiosk.env").read_text()
    assert (root / "etc/checkpoint/hub.env").exists()
    assert (root / "etc/sysusers.d/checkpoint.conf").read_text() == \
        (REPO / "systemd/checkpoint.sysusers").read_text()
    assert (root / "etc/tmpfiles.d/checkpoint.conf").read_text() == \
        (REPO / "systemd/checkpoint.tmpfiles").read_text()
    # Without --skip-python the venv would be here; the units point at it.
    assert not (root / "opt/checkpoint/.venv").exists()


def test_units_are_enabled_inside_the_root_only(tmp_path: Path) -> None:
    root = staged(tmp_path / "root")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert sorted(p.name for p in wants.iterdir()) == ["checkpoint-kiosk.service", "checkpoint-sync.service"]
    assert os.readlink(wants / "checkpoint-kiosk.service") == "/etc/systemd/system/checkpoint-kiosk.service"
    assert not Path("/etc/systemd/system/checkpoint-kiosk.service").exists()
    staged(root, "--hub")
    assert (wants / "checkpoint-hub.service").is_symlink()


def test_gate_option_enables_the_screenless_gate_instead_of_the_kiosk(tmp_path: Path) -> None:
    root = staged(tmp_path / "root", "--gate")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert sorted(p.name for p in wants.iterdir()) == ["checkpoint-gate.service", "checkpoint-sync.service"]
    gate = (root / "etc/systemd/system/checkpoint-gate.service").read_text()
    assert "ExecStart=/opt/checkpoint/.venv/bin/checkpoint gate --config /etc/checkpoint/config.toml" in gate


def test_an_update_keeps_the_device_s_role_and_a_role_option_switches_it(tmp_path: Path) -> None:
    """Updating a gate with the documented `install.sh` (no option) enabled the kiosk beside the gate: two
    units that conflict, both wanted at boot. A device keeps its role; `--gate` / `--kiosk` switch it."""
    def wanted(root: Path) -> list[str]:
        return sorted(p.name for p in (root / "etc/systemd/system/multi-user.target.wants").iterdir())

    gate, kiosk = ["checkpoint-gate.service", "checkpoint-sync.service"], ["checkpoint-kiosk.service",
                                                                           "checkpoint-sync.service"]
    root = staged(tmp_path / "root", "--gate")
    assert wanted(staged(root)) == gate
    assert wanted(staged(root, "--kiosk")) == kiosk
    assert wanted(staged(root)) == kiosk
    assert wanted(staged(root, "--gate", "--hub")) == sorted([*gate, "checkpoint-hub.service"])
    result = install(root, "--gate", "--kiosk")
    assert result.returncode == 2 and "--gate and --kiosk" in result.stderr
    assert wanted(root) == sorted([*gate, "checkpoint-hub.service"])


def test_install_is_idempotent_and_keeps_the_operators_settings(tmp_path: Path) -> None:
    root = staged(tmp_path / "root")
    first = snapshot(root)
    assert snapshot(staged(root)) == first
    config = root / "etc/checkpoint/config.toml"
    config.write_text('[device]\nid = "gate-7-north"\n')
    (root / "etc/checkpoint/kiosk.env").write_text("QT_QPA_PLATFORM=linuxfb\n")
    result = install(root)
    assert result.returncode == 0
    assert config.read_text() == '[device]\nid = "gate-7-north"\n'
    assert (root / "etc/checkpoint/kiosk.env").read_text() == "QT_QPA_PLATFORM=linuxfb\n"
    assert f"kept existing {config}" in result.stderr


def test_prefix_is_written_into_the_units(tmp_path: Path) -> None:
    root = staged(tmp_path / "root", "--prefix", "/srv/checkpoint")
    kiosk = (root / "etc/systemd/system/checkpoint-kiosk.service").read_text()
    assert "ExecStart=/srv/checkpoint/.venv/bin/checkpoint kiosk" in kiosk
    assert "/opt/checkpoint" not in kiosk


def test_booting_the_staged_root_creates_users_and_owned_directories(tmp_path: Path) -> None:
    """What systemd-sysusers and systemd-tmpfiles do at boot, run against the staged root."""
    root = staged(tmp_path / "root")
    for tool in ("systemd-sysusers", "systemd-tmpfiles"):
        assert shutil.which(tool), f"{tool} not found: install systemd (scripts/setup.sh does)"
    subprocess.run(["systemd-sysusers", f"--root={root}"], check=True, capture_output=True, timeout=60)
    subprocess.run(["systemd-tmpfiles", f"--root={root}", "--create"], check=True, capture_output=True,
                   timeout=60)
    passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    groups = {line.split(":")[0]: int(line.split(":")[2]) for line in (root / "etc/group").read_text().splitlines()}
    user = passwd["checkpoint"]
    assert user[5] == "/var/lib/checkpoint" and user[6] == "/usr/sbin/nologin"
    uid = int(user[2])
    assert uid < 1000  # a system user
    for group in ("video", "input", "render", "audio", "dialout"):
        assert group in groups
    data = (root / "var/lib/checkpoint").stat()
    assert (data.st_uid, data.st_gid, mode(root / "var/lib/checkpoint")) == (uid, groups["checkpoint"], 0o750)
    config = (root / "etc/checkpoint/config.toml").stat()
    assert (config.st_uid, config.st_gid) == (0, groups["checkpoint"])
    hub_dir = (root / "etc/checkpoint/hub").stat()
    assert hub_dir.st_gid == groups["checkpoint-hub"]


def test_bad_options_are_refused(tmp_path: Path) -> None:
    result = subprocess.run(["bash", str(INSTALL), "--frobnicate"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "unknown option --frobnicate" in result.stderr
    result = install(tmp_path / "root", "--prefix", "relative/dir")
    assert result.returncode == 1 and "absolute path" in result.stderr
    result = subprocess.run(["bash", str(INSTALL), "--root", "/"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "--root / would install onto this system" in result.stderr


def test_help_describes_the_options() -> None:
    result = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--root DIR", "--skip-python", "--hub", "--prefix"):
        assert option in result.stdout


def test_picamera2_constraints_leave_a_version_the_project_accepts() -> None:
    """On Raspberry Pi OS, pip is held to numpy 1.x; the project's own ranges must still be met."""
    import tomllib

    from packaging.requirements import Requirement

    declared = {Requirement(r).name: Requirement(r).specifier
                for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    constraints = [Requirement(line) for line in (REPO / "systemd/picamera2-constraints.txt").read_text()
                   .splitlines() if line and not line.startswith("#")]
    # Versions known to exist on PyPI with aarch64 wheels for Python 3.11.
    known = {"numpy": "1.26.4", "opencv-python-headless": "4.10.0.84"}
    assert {c.name for c in constraints} == set(known)
    for c in constraints:
        assert c.specifier.contains(known[c.name]), c
        assert declared[c.name].contains(known[c.name]), (c.name, declared[c.name])


def test_checkpoint_install_passes_every_option_of_the_script(tmp_path: Path) -> None:
    """`checkpoint install` runs install.sh "with the same options" (docs/deploy.md): each one the script
    takes, and `--gate` staged through the command enables the gate."""
    import re
    import sys

    from scanner.cli import build_parser

    script = set(re.findall(r"^\s+(--[a-z-]+)\)", INSTALL.read_text(), re.M))
    install_parser = next(a for a in build_parser("install")._actions if a.dest == "command").choices["install"]
    assert script - {"--help"} <= {s for a in install_parser._actions for s in a.option_strings}
    exe = shutil.which("checkpoint", path=str(Path(sys.executable).parent)) or "checkpoint"
    root = tmp_path / "root"
    result = subprocess.run([exe, "install", "--root", str(root), "--skip-python", "--gate"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert sorted(p.name for p in wants.iterdir()) == ["checkpoint-gate.service", "checkpoint-sync.service"]


def test_the_apt_packages_hold_the_programs_the_appliance_runs() -> None:
    """The default `[sound] mode = "both"` speaks each result with espeak-ng; the installer did not install
    it, so a new device played tones alone and its status bar said so."""
    import re

    text = INSTALL.read_text()
    listed = set(re.search(r"packages=\(([^)]*)\)", text, re.S).group(1).split())  # type: ignore[union-attr]
    from scanner.config import SoundSettings

    assert SoundSettings().mode != "tones"
    programs = {"espeak-ng": "espeak-ng", "aplay": "alsa-utils"}  # scanner/sound: voice.py, player.py
    assert set(programs.values()) <= listed, sorted(listed)
