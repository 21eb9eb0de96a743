"""The unit files: `systemd-analyze verify` on a staged install, with no warning allowed.

The units name /opt/checkpoint/.venv/bin/checkpoint, which does not exist on a test machine. Instead of
filtering the warning, the units are installed with `install.sh --root` into a staged root that holds
a copy of this machine's system units (for targets and gettys) and an executable at that path, and
verified there with `--root`: systemd checks exactly what it would check on a device.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO
from ui.model.exports import USB_ROOTS

UNITS = ["checkpoint-kiosk.service", "checkpoint-gate.service", "checkpoint-sync.service", "checkpoint-hub.service"]
EXE = "/opt/checkpoint/.venv/bin/checkpoint"
HOST_UNITS = Path("/usr/lib/systemd/system")


def need(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} not found: install systemd (scripts/setup.sh does)"
    return path


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["bash", str(REPO / "systemd/install.sh"), "--root", str(root), "--skip-python"],
                   check=True, capture_output=True, timeout=120)
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    exe = root / EXE.lstrip("/")
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    return root


def verify(root: Path, *units: Path) -> subprocess.CompletedProcess:
    return subprocess.run([need("systemd-analyze"), "verify", f"--root={root}", *map(str, units)],
                          capture_output=True, text=True, timeout=120)


def assert_clean(result: subprocess.CompletedProcess) -> None:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and output == "", output


@pytest.mark.parametrize("unit", UNITS)
def test_unit_verifies_without_any_warning(root: Path, unit: str) -> None:
    assert_clean(verify(root, root / "etc/systemd/system" / unit))


def test_all_units_verify_together(root: Path) -> None:
    assert_clean(verify(root, *(root / "etc/systemd/system" / u for u in UNITS)))


def test_the_check_catches_a_misspelled_setting(root: Path) -> None:
    text = (root / "etc/systemd/system/checkpoint-kiosk.service").read_text()
    bad = root / "etc/systemd/system/typo.service"
    bad.write_text(text.replace("ProtectSystem=strict", "ProtectSytem=strict"))
    try:
        result = verify(root, bad)
    finally:
        bad.unlink()
    assert "Unknown key 'ProtectSytem'" in result.stderr


def test_the_check_catches_a_missing_executable(root: Path) -> None:
    text = (root / "etc/systemd/system/checkpoint-sync.service").read_text()
    bad = root / "etc/systemd/system/noexe.service"
    bad.write_text(text.replace(EXE, "/opt/checkpoint/.venv/bin/checkpoint-missing"))
    try:
        result = verify(root, bad)
    finally:
        bad.unlink()
    assert result.returncode != 0
    assert "is not executable" in result.stderr


@pytest.mark.parametrize(("unit", "threshold"), [
    ("checkpoint-kiosk.service", 25), ("checkpoint-gate.service", 25), ("checkpoint-sync.service", 20),
    ("checkpoint-hub.service", 20),
])
def test_hardening_exposure_stays_low(root: Path, unit: str, threshold: int) -> None:
    # systemd's own exposure score (0-100 here, 0-10 in its report); the kiosk needs device access.
    result = subprocess.run(
        [need("systemd-analyze"), "security", "--offline=true", f"--threshold={threshold}",
         f"--root={root}", str(root / "etc/systemd/system" / unit)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def settings(unit: str) -> dict[str, list[str]]:
    """Every `Key=value` of a unit file, keys repeated as systemd allows."""
    out: dict[str, list[str]] = {}
    for line in (REPO / "systemd" / unit).read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_kiosk_unit_contract() -> None:
    s = settings("checkpoint-kiosk.service")
    assert s["Type"] == ["notify"]
    assert s["Restart"] == ["always"]
    assert int(s["WatchdogSec"][0]) >= 10
    assert s["StartLimitIntervalSec"] == ["0"]
    assert s["User"] == ["checkpoint"]
    assert set(s["SupplementaryGroups"][0].split()) == {"video", "input", "render", "audio", "dialout"}
    assert s["ExecStart"] == [f"{EXE} kiosk --config /etc/checkpoint/config.toml"]
    assert "QT_QPA_PLATFORM=eglfs" in s["Environment"]
    assert s["EnvironmentFile"] == ["-/etc/checkpoint/kiosk.env"]
    for key, value in [("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"), ("PrivateTmp", "yes"),
                       ("ProtectHome", "yes")]:
        assert s[key] == [value], key
    # The data directory, and wherever the admin panel's export looks for a USB stick: the strict
    # read-only system would otherwise make a stick read-only inside the service.
    assert s["ReadWritePaths"][0] == "/var/lib/checkpoint"
    assert set(" ".join(s["ReadWritePaths"][1:]).split()) == {f"-{root.rstrip('/')}" for root in USB_ROOTS}
    # These would hide /dev/video*, /dev/dri/* and /dev/input/* from the kiosk.
    for key in ("PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock"):
        assert key not in s, key


def test_gate_unit_contract() -> None:
    kiosk, s = settings("checkpoint-kiosk.service"), settings("checkpoint-gate.service")
    assert s["Type"] == ["notify"] and s["Restart"] == ["always"] and int(s["WatchdogSec"][0]) >= 10
    assert s["ExecStart"] == [f"{EXE} gate --config /etc/checkpoint/config.toml"]
    assert s["Conflicts"] == ["checkpoint-kiosk.service"]
    assert set(s["SupplementaryGroups"][0].split()) == {"gpio", "dialout", "video", "audio", "input"}
    assert "GPIOZERO_PIN_FACTORY=lgpio" in s["Environment"]
    # The same hardening as the kiosk (no display, so it may also deny writable executable memory).
    hardening = {k: v for k, v in kiosk.items() if k.startswith(("Protect", "Restrict", "Private", "NoNew", "System",
                                                                "Capability", "Ambient", "Lock", "Remove", "UMask",
                                                                "ReadWrite"))}
    # Only the kiosk exports to a USB stick (its admin panel); the gate writes its data directory alone.
    hardening["ReadWritePaths"] = hardening["ReadWritePaths"][:1]
    for key, value in hardening.items():
        assert s[key] == value, key
    for key in ("PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock"):
        assert key not in s, key


@pytest.mark.parametrize("unit", ["checkpoint-sync.service", "checkpoint-hub.service"])
def test_sync_and_hub_units_share_the_style(unit: str) -> None:
    s = settings(unit)
    assert s["Restart"] == ["on-failure"]
    for key, value in [("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"), ("PrivateTmp", "yes"),
                       ("ProtectHome", "yes"), ("PrivateDevices", "yes")]:
        assert s[key] == [value], key
    assert s["ReadWritePaths"][0].startswith("/var/lib/checkpoint")


def test_sync_unit_has_a_watchdog() -> None:
    s = settings("checkpoint-sync.service")
    assert s["Type"] == ["notify"] and int(s["WatchdogSec"][0]) >= 60


def exec_args(unit: str) -> list[str]:
    s = settings(unit)
    env = dict(v.split("=", 1) for v in s.get("Environment", []))
    argv = s["ExecStart"][0].split()
    assert argv[0] == EXE
    return [env.get(a[2:-1], a) if a.startswith("${") else a for a in argv[1:]]


@pytest.mark.parametrize("unit", UNITS)
def test_exec_start_arguments_are_accepted_by_the_cli(unit: str) -> None:
    from scanner.cli import build_parser

    parser = build_parser()
    args = exec_args(unit)
    parsed = parser.parse_args(args)
    assert parsed.func is not None


def test_environment_files_set_the_qt_platform() -> None:
    env = {}
    for line in (REPO / "systemd/kiosk.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    assert env["QT_QPA_PLATFORM"] in ("eglfs", "linuxfb")
    assert "#QT_QPA_PLATFORM=linuxfb" in (REPO / "systemd/kiosk.env").read_text()
