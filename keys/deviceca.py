"""The deployment's device CA: X.509 certificates for mutual TLS between devices and the hub.

One CA per deployment (`ca.pem`, `ca.key` in a directory kept off the devices) signs

* a client certificate per device (`enroll`): the subject CN is the device id, EKU clientAuth; the hub
  takes the device id from it, so a device can only upload under its own id;
* the hub's server certificate (`server_cert`) for its host names and IP addresses, EKU serverAuth;
  devices pin `ca.pem` as the hub's CA.

Every enrolled certificate is recorded in `enrolled.jsonl` next to the CA (serial, device id, expiry).
Keys are EC P-256, written as PKCS#8 PEM with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keys.errors import KeyFileError
from keys.keyfile import load_private_key, write_private_key

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
REGISTRY = "enrolled.jsonl"
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class DeviceCAError(KeyFileError):
    """The device CA is missing, already exists, or a request to it is invalid."""


@dataclass(frozen=True)
class Credentials:
    cert: Path
    key: Path
    ca: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _check_days(days: int, what: str) -> None:
    """A certificate must be valid from now for at least a day, and for no absurd span."""
    if not 1 <= days <= 36500:
        raise DeviceCAError(f"{what}: --days {days} must be from 1 to 36500 (a certificate valid for "
                            "less than a day would be expired when it reaches the device)")


def init_ca(ca_dir: str | Path, *, name: str = "Checkpoint device CA", days: int = 3650,
            force: bool = False) -> Path:
    """Create the CA key and self-signed certificate; refuse to overwrite one unless `force`."""
    _check_days(days, "device CA")
    d = Path(ca_dir)
    if (d / CA_KEY).exists() and not force:
        raise DeviceCAError(f"device CA {d}: already exists (use --force to replace it, which "
                            "invalidates every enrolled device)")
    d.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    write_private_key(d / CA_KEY, key)
    return _write_cert(d / CA_CERT, cert)


def load_ca(ca_dir: str | Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    d = Path(ca_dir)
    try:
        cert = x509.load_pem_x509_certificate((d / CA_CERT).read_bytes())
    except FileNotFoundError:
        raise DeviceCAError(f"device CA {d}: no {CA_CERT} (run `checkpoint keys device-ca init`)") from None
    except ValueError as e:
        raise DeviceCAError(f"device CA {d / CA_CERT}: not a PEM certificate ({e})") from None
    key = load_private_key(d / CA_KEY)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise DeviceCAError(f"device CA {d / CA_KEY}: expected an EC P-256 key")
    return cert, key


def _leaf(ca_dir: str | Path, cn: str, out_dir: str | Path, stem: str, days: int,
          usage: x509.ObjectIdentifier,
          san: list[x509.GeneralName] | None) -> tuple[Credentials, x509.Certificate]:
    _check_days(days, f"certificate {cn}")
    ca_cert, ca_key = load_ca(ca_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    out = Path(out_dir)
    creds = Credentials(cert=_write_cert(out / f"{stem}.pem", cert),
                        key=write_private_key(out / f"{stem}.key", key),
                        ca=_write_cert(out / CA_CERT, ca_cert))
    return creds, cert


def enroll(ca_dir: str | Path, device_id: str, out_dir: str | Path, *, days: int = 825) -> Credentials:
    """Issue a client certificate for `device_id` into `out_dir` (`DEVICE_ID.pem/.key` and `ca.pem`)."""
    if not DEVICE_ID_RE.match(device_id):
        raise DeviceCAError(f"device id {device_id!r}: use 1 to 64 letters, digits, '.', '_' or '-'")
    creds, cert = _leaf(ca_dir, device_id, out_dir, device_id, days, ExtendedKeyUsageOID.CLIENT_AUTH, None)
    entry = {"serial": format(cert.serial_number, "x"), "device_id": device_id,
             "not_after": int(cert.not_valid_after_utc.timestamp()), "enrolled_at": int(_now().timestamp())}
    with open(Path(ca_dir) / REGISTRY, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    return creds


def server_cert(ca_dir: str | Path, hosts: list[str], out_dir: str | Path, *, days: int = 825) -> Credentials:
    """Issue the hub's server certificate for host names / IP addresses into `out_dir` (`hub.pem/.key`)."""
    if not hosts:
        raise DeviceCAError("server certificate: give at least one --host")
    san: list[x509.GeneralName] = []
    for h in hosts:
        try:
            san.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            san.append(x509.DNSName(h))
    creds, _ = _leaf(ca_dir, hosts[0], out_dir, "hub", days, ExtendedKeyUsageOID.SERVER_AUTH, san)
    return creds


def device_id_of(cert_der: bytes) -> str:
    """The device id (subject CN) of a client certificate already verified by the TLS layer."""
    cert = x509.load_der_x509_certificate(cert_der)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(cns) != 1:
        raise DeviceCAError("client certificate has no single common name")
    value = cns[0].value
    cn = value if isinstance(value, str) else value.decode()
    if not DEVICE_ID_RE.match(cn):
        raise DeviceCAError(f"client certificate common name {cn!r} is not a device id")
    return cn


def enrolled(ca_dir: str | Path) -> list[dict[str, object]]:
    path = Path(ca_dir) / REGISTRY
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def tls_files_problem(certfile: str, keyfile: str, ca: str | None = None) -> tuple[str, str] | None:
    """Load a certificate with its private key, then a CA certificate, as a TLS connection will: None when
    they can be used, else which failed ("cert": the certificate and its key; "ca") and why."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError) as e:
        return "cert", str(e)
    if ca is not None:
        try:
            ctx.load_verify_locations(ca)
        except (ssl.SSLError, OSError) as e:
            return "ca", str(e)
    return None
