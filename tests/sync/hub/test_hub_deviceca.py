"""The device CA tooling behind `checkpoint keys device-ca …` and `checkpoint keys enroll`."""

from __future__ import annotations

import argparse
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from keys.cli import register_device as register
from keys.deviceca import DeviceCAError, device_id_of, enroll, enrolled, init_ca, server_cert


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="checkpoint keys")
    register(parser.add_subparsers(dest="keys_command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_commands_create_ca_server_and_device_certificates(tmp_path, capsys):
    ca = tmp_path / "ca"
    assert run(["device-ca", "init", "--dir", str(ca)]) == 0
    assert stat.S_IMODE((ca / "ca.key").stat().st_mode) == 0o600
    assert run(["device-ca", "server-cert", "--dir", str(ca), "--host", "127.0.0.1", "--host", "localhost",
                "--out", str(tmp_path / "hub")]) == 0
    assert run(["enroll", "gate-7", "--ca-dir", str(ca), "--out", str(tmp_path / "dev")]) == 0
    assert "gate-7 enrolled" in capsys.readouterr().out
    dev = x509.load_pem_x509_certificate((tmp_path / "dev" / "gate-7.pem").read_bytes())
    hub = x509.load_pem_x509_certificate((tmp_path / "hub" / "hub.pem").read_bytes())
    root = x509.load_pem_x509_certificate((ca / "ca.pem").read_bytes())
    dev.verify_directly_issued_by(root)
    hub.verify_directly_issued_by(root)
    assert dev.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == \
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
    sans = hub.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(i) for i in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert device_id_of(dev.public_bytes(serialization.Encoding.DER)) == "gate-7"
    assert [e["device_id"] for e in enrolled(ca)] == ["gate-7"]
    assert enrolled(ca)[0]["serial"] == format(dev.serial_number, "x")


def test_existing_ca_is_not_overwritten_without_force(tmp_path):
    init_ca(tmp_path)
    before = (tmp_path / "ca.pem").read_bytes()
    with pytest.raises(DeviceCAError, match="already exists"):
        init_ca(tmp_path)
    assert (tmp_path / "ca.pem").read_bytes() == before
    init_ca(tmp_path, force=True)
    assert (tmp_path / "ca.pem").read_bytes() != before


@pytest.mark.parametrize("bad", ["", "a b", "../x", "x" * 65, "名字"])
def test_bad_device_ids_are_refused(tmp_path, bad):
    init_ca(tmp_path / "ca")
    with pytest.raises(DeviceCAError, match="device id"):
        enroll(tmp_path / "ca", bad, tmp_path / "out")


def test_missing_ca_is_a_clear_error(tmp_path):
    with pytest.raises(DeviceCAError, match="device-ca init"):
        server_cert(tmp_path / "nope", ["127.0.0.1"], tmp_path / "out")
