"""`checkpoint config check|pin` and `checkpoint install` as subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from scanner.config import load_settings
from scanner.pin import verify_pin
from tests.helpers import REPO

EXAMPLE = REPO / "config.example.toml"
EXE = shutil.which("checkpoint", path=str(Path(sys.executable).parent)) or "checkpoint"


def anchor_file(directory: Path) -> Path:
    """A trust anchor (an EC public key in PEM) for settings `--files-exist` holds to having one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = directory / "anchor.pub.pem"
    path.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def checkpoint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_check_accepts_the_example() -> None:
    r = checkpoint("config", "check", str(EXAMPLE))
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{EXAMPLE}: ok\n"


def test_check_reports_every_problem_with_key_and_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[device]\nid = "gate-3"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('[camera]\nfps = "fast"\nzoom = 2\n[admin]\npin_hash = "1234"\n[hub]\nurl = 5\n')
    missing = tmp_path / "missing.toml"
    r = checkpoint("config", "check", str(good), str(bad), str(missing))
    assert r.returncode == 2
    assert r.stdout == f"{good}: ok\n"
    lines = r.stderr.splitlines()
    assert f"{bad}: camera.fps: expected an integer, got 'fast'" in lines
    assert f"{bad}: camera.zoom: unknown setting" in lines
    assert any(line.startswith(f"{bad}: admin.pin_hash: not a PIN hash") for line in lines)
    assert f"{bad}: hub.url: expected a string, got 5" in lines
    assert f"{bad}: 4 problems" in lines
    assert f"{missing}: file not found" in lines
    assert "Traceback" not in r.stderr


def test_check_files_exist(tmp_path: Path) -> None:
    anchor = tmp_path / "anchor.pem"
    anchor.write_text("not a key\n")
    f = tmp_path / "c.toml"
    f.write_text(f'[trust]\nanchors = ["{anchor}", "{tmp_path}/gone.pem"]\n'
                 f'[hub]\nclient_key = "{tmp_path}/key.pem"\n')
    assert checkpoint("config", "check", str(f)).returncode == 0
    r = checkpoint("config", "check", "--files-exist", str(f))
    assert r.returncode == 2
    assert f"{f}: trust.anchors[1]: cannot read {tmp_path}/gone.pem: No such file or directory" in r.stderr
    assert f"{f}: hub.client_key: cannot read" in r.stderr
    assert f"{f}: trust.anchors[0]: {anchor}: not a PEM public key" in r.stderr


def test_check_files_exist_names_files_the_services_cannot_use(tmp_path: Path) -> None:
    """A readable file of the wrong kind (the device CA's certificate given as the trust anchor, a key that
    is not the certificate's) passed `--files-exist`; the kiosk, gate or sync agent then refused to start."""
    from tests.helpers.faultproxy import make_pki

    pki = make_pki(tmp_path / "pki", "gate-7")
    other = make_pki(tmp_path / "other", "gate-8")
    f = tmp_path / "c.toml"
    f.write_text(f'[device]\nid = "gate-7"\n[trust]\nanchors = ["{pki.ca}"]\n'
                 f'[hub]\nurl = "https://hub.example.org"\nclient_cert = "{pki.device_cert}"\n'
                 f'client_key = "{other.device_key}"\nca_cert = "{pki.ca}"\n')
    r = checkpoint("config", "check", "--files-exist", str(f))
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"{f}: trust.anchors[0]: {pki.ca}: not a PEM public key"), lines
    assert lines[1].startswith(f"{f}: hub.client_cert: {pki.device_cert} with hub.client_key: {other.device_key}: "
                               "not a PEM certificate and its private key ("), lines
    assert lines[2:] == [f"{f}: 2 problems"]
    f.write_text(f'[device]\nid = "gate-8"\n[trust]\nanchors = ["{anchor_file(tmp_path)}"]\n'
                 f'[hub]\nclient_cert = "{pki.device_cert}"\nclient_key = "{pki.device_key}"\nca_cert = "{pki.ca}"\n')
    r = checkpoint("config", "check", "--files-exist", str(f))
    assert r.stderr.splitlines()[0] == (f"{f}: device.id: 'gate-8' is not the common name of hub.client_cert "
                                        "('gate-7'): the hub would refuse every visit logged under it")
    anchor = tmp_path / "anchor.pem"
    anchor.write_bytes(pki.device_cert.read_bytes())  # a certificate, not a public key
    f.write_text(f'[device]\nid = "gate-7"\n[trust]\nanchors = ["{anchor_file(tmp_path)}"]\n'
                 f'[hub]\nclient_cert = "{pki.device_cert}"\nclient_key = "{pki.device_key}"\nca_cert = "{anchor}"\n')
    r = checkpoint("config", "check", "--files-exist", str(f))
    assert r.returncode == 0, r.stderr
    f.write_text(f'[device]\nid = "gate-7"\n[trust]\nanchors = ["{anchor_file(tmp_path)}"]\n'
                 f'[hub]\nclient_cert = "{pki.device_cert}"\nclient_key = "{pki.device_key}"\nca_cert = "{f}"\n')
    r = checkpoint("config", "check", "--files-exist", str(f))
    assert r.stderr.startswith(f"{f}: hub.ca_cert: {f}: not a PEM CA certificate ("), r.stderr


def test_check_files_exist_names_a_bootstrap_trust_list_the_anchors_do_not_verify(tmp_path: Path) -> None:
    """A truncated or foreign `trust.trust_list` left a new device with no trust list until the hub sent one
    (every code refused as from an unknown key), logged only at the service's start."""
    import time

    from scanner.demo.world import build_demo_world

    world = build_demo_world(tmp_path / "world", int(time.time()))
    other = build_demo_world(tmp_path / "other", int(time.time()))
    cut = tmp_path / "cut.json"
    cut.write_bytes(world.trust_list_path.read_bytes()[:300])
    f = tmp_path / "c.toml"
    for trust_list, problem in ((world.trust_list_path, None), (cut, "not a valid JWS"),
                                (other.trust_list_path, "signature")):
        f.write_text(f'[trust]\nanchors = ["{world.anchor_path}"]\ntrust_list = "{trust_list}"\n')
        r = checkpoint("config", "check", "--files-exist", str(f))
        if problem is None:
            assert r.returncode == 0, r.stderr
        else:
            assert r.returncode == 2 and r.stderr.startswith(f"{f}: trust.trust_list: "), r.stderr
            assert problem in r.stderr.splitlines()[0], r.stderr


def test_check_files_exist_names_a_data_dir_the_services_cannot_make_or_write(tmp_path: Path) -> None:
    """The data directory is where every visit is written: one that is a file, or under one, fails every
    service at start, so `config check --files-exist` names it."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    f = tmp_path / "c.toml"
    for data_dir, problem in ((blocker, "not a directory"),
                              (blocker / "data", f"cannot be created: {blocker} is not a directory")):
        f.write_text(f'[device]\ndata_dir = "{data_dir}"\n')
        assert checkpoint("config", "check", str(f)).returncode == 0
        r = checkpoint("config", "check", "--files-exist", str(f))
        assert (r.returncode, r.stderr.splitlines()[0]) == (2, f"{f}: device.data_dir: {data_dir}: {problem}")
    anchor = anchor_file(tmp_path)
    for data_dir in (tmp_path / "data", tmp_path / "new" / "data"):  # made by the services at start
        f.write_text(f'[device]\ndata_dir = "{data_dir}"\n[trust]\nanchors = ["{anchor}"]\n')
        r = checkpoint("config", "check", "--files-exist", str(f))
        assert r.returncode == 0, r.stderr
        assert not data_dir.exists()


def test_check_files_exist_names_settings_without_a_trust_anchor(tmp_path: Path) -> None:
    """The installed settings (the example: `anchors = []`) passed `--files-exist`, the check docs/deploy.md
    gives before the first start; the kiosk and the gate then refused to start without an anchor."""
    r = checkpoint("config", "check", "--files-exist", str(EXAMPLE))
    assert r.returncode == 2
    assert f"{EXAMPLE}: trust.anchors: none set: the kiosk and the gate need a trust anchor to start" in r.stderr
    assert checkpoint("config", "check", str(EXAMPLE)).returncode == 0  # a valid file, only not ready to run


def test_pin_sets_the_hash_and_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    shutil.copy(EXAMPLE, f)
    f.chmod(0o640)
    before = f.read_text()
    r = checkpoint("config", "pin", str(f), "--stdin", stdin="802615\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{f}: admin PIN set\n"
    settings = load_settings(f)
    assert verify_pin("802615", settings.admin.pin_hash)
    assert not verify_pin("802614", settings.admin.pin_hash)
    after = f.read_text()
    assert "802615" not in after
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0] == 'pin_hash = ""'
    assert os.stat(f).st_mode & 0o777 == 0o640
    # Again: the hash is replaced, not added twice.
    assert checkpoint("config", "pin", str(f), "--stdin", stdin="1357\n").returncode == 0
    assert verify_pin("1357", load_settings(f).admin.pin_hash)
    assert f.read_text().count("pin_hash =") == 1


def test_pin_adds_an_admin_section_when_there_is_none(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text('[device]\nid = "gate-9"')
    assert checkpoint("config", "pin", str(f), "--stdin", stdin="4321\n").returncode == 0
    settings = load_settings(f)
    assert settings.device.id == "gate-9" and verify_pin("4321", settings.admin.pin_hash)
    f.write_text('[admin]\nmax_attempts = 3\n[sound]\nenabled = false\n')
    assert checkpoint("config", "pin", str(f), "--stdin", stdin="4321\n").returncode == 0
    settings = load_settings(f)
    assert settings.admin.max_attempts == 3 and not settings.sound.enabled
    assert verify_pin("4321", settings.admin.pin_hash)


def test_pin_is_set_in_a_file_with_other_problems_which_it_names(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text('[camera]\nfps = "fast"\n')
    r = checkpoint("config", "pin", str(f), "--stdin", stdin="2468\n")
    assert (r.returncode, r.stdout) == (2, f"{f}: admin PIN set\n")
    assert r.stderr == f"{f}: camera.fps: expected an integer, got 'fast'\n"
    data = tomllib.loads(f.read_text())
    assert verify_pin("2468", data["admin"]["pin_hash"]) and data["camera"] == {"fps": "fast"}


def test_pin_writes_through_a_link_to_a_persistent_partition(tmp_path: Path) -> None:
    real = tmp_path / "data" / "config.toml"
    real.parent.mkdir()
    real.write_text('[device]\nid = "gate-7"\n')
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    assert checkpoint("config", "pin", str(link), "--stdin", stdin="2468\n").returncode == 0
    assert link.is_symlink() and verify_pin("2468", load_settings(real).admin.pin_hash)


def test_pin_refuses_bad_pins_and_files(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text("[admin]\n")
    r = checkpoint("config", "pin", str(f), "--stdin", stdin="12ab\n")
    assert r.returncode == 2 and "digits only" in r.stderr and "nothing changed" in r.stderr
    assert f.read_text() == "[admin]\n"
    r = checkpoint("config", "pin", str(tmp_path / "nope.toml"), "--stdin", stdin="1234\n")
    assert r.returncode == 2 and "nope.toml: file not found" in r.stderr
    f.write_text("[admin\n")
    r = checkpoint("config", "pin", str(f), "--stdin", stdin="1234\n")
    assert r.returncode == 2 and "invalid TOML" in r.stderr
    assert "Traceback" not in r.stderr


def test_pin_reads_the_file_as_config_check_does(tmp_path: Path) -> None:
    """`config pin` reads a file as `config check` does: one that is not UTF-8 is named (exit 2, not an
    internal error), and one Notepad saved with a byte-order mark and CRLF line ends is read."""
    f = tmp_path / "config.toml"
    f.write_bytes(b'[device]\nname = "Caf\xe9"\n')
    r = checkpoint("config", "pin", str(f), "--stdin", stdin="1357\n")
    assert (r.returncode, r.stderr) == (2, f"checkpoint: error: {f}: not UTF-8 text\n")
    f.write_bytes(b'\xef\xbb\xbf[device]\r\nid = "gate-7"\r\n')
    r = checkpoint("config", "pin", str(f), "--stdin", stdin="1357\n")
    assert r.returncode == 0, r.stderr
    settings = load_settings(f)
    assert settings.device.id == "gate-7" and verify_pin("1357", settings.admin.pin_hash)


def test_install_stages_through_the_cli(tmp_path: Path) -> None:
    root = tmp_path / "root"
    r = checkpoint("install", "--root", str(root), "--skip-python", "--hub")
    assert r.returncode == 0, r.stderr
    assert (root / "etc/systemd/system/checkpoint-kiosk.service").is_file()
    assert (root / "etc/systemd/system/multi-user.target.wants/checkpoint-hub.service").is_symlink()
    assert load_settings(root / "etc/checkpoint/config.toml").device.data_dir == "/var/lib/checkpoint"
