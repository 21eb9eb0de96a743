"""`checkpoint keys …`: key and issuer tooling for pilots, demos and tests (a thin shell over keys/).

The national platform and regional issuers would run these: make root and issuer key pairs, sign trust
lists and status lists, and issue codes as payload text and QR PNGs.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from keys.dcccli import add_dcc_issue_options, register_dsc
from keys.errors import KeyFileError, KeysError
from keys.jsontypes import Json, JsonObject

if TYPE_CHECKING:
    from keys.keyfile import PrivateKey


def _passphrase(args: argparse.Namespace, confirm: bool = False) -> str | None:
    if getattr(args, "passphrase_env", None):
        value = os.environ.get(args.passphrase_env)
        if value is None:
            raise KeyFileError(f"environment variable {args.passphrase_env} is not set")
        return value
    if getattr(args, "ask_passphrase", False):
        first = getpass.getpass("passphrase: ")
        if confirm and getpass.getpass("again: ") != first:
            raise KeyFileError("the passphrases differ")
        return first
    return None


def _add_passphrase(p: argparse.ArgumentParser) -> None:
    p.add_argument("--passphrase-env", metavar="VAR", help="read the key passphrase from this variable")
    p.add_argument("--ask-passphrase", action="store_true", help="prompt for the key passphrase")


# The longest a signed list or a code may be valid, as for a device certificate (`keys.deviceca`): longer is a
# typo, and a time past 2^63-1 seconds is refused by every device reading the list.
MAX_VALID_FOR = 36500 * 86400


def valid_for(text: str) -> int:
    """`--valid-for`: whole seconds, 1 to `MAX_VALID_FOR` (0 or fewer would sign a list already out of date)."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_VALID_FOR:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds from 1 to {MAX_VALID_FOR} "
                                         "(100 years)")
    return int(text)


def _write_json(path: str, doc: Json) -> None:
    if path == "-":
        print(json.dumps(doc, ensure_ascii=False))
    else:
        Path(path).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def cmd_generate(args: argparse.Namespace) -> int:
    from keys.keyfile import generate_key, kid_of, refuse_overwrite, write_private_key, write_public_key

    out = Path(args.out)
    priv, pub = out.with_suffix(".key"), out.with_suffix(".pub.pem")
    refuse_overwrite((priv, pub), args.force)
    key = generate_key(args.alg)
    write_private_key(priv, key, _passphrase(args, confirm=True))
    write_public_key(pub, key)
    print(f"{args.alg} key {kid_of(key).hex()}: private {priv} (mode 0600), public {pub}")
    return 0


def _load_private(args: argparse.Namespace, path: str) -> PrivateKey:
    from keys.keyfile import load_private_key

    return load_private_key(path, _passphrase(args))


def _parse_key_spec(spec: str) -> JsonObject:
    """PUB.pem:ISSUER[:ZH[:EN[:USE,USE]]] for a trust-list entry."""
    parts = spec.split(":")
    if len(parts) < 2:
        raise KeysError(f"--key {spec!r}: expected PUB.pem:ISSUER[:NAME_ZH[:NAME_EN[:code,status]]]")
    path, issuer = parts[0], parts[1]
    zh = parts[2] if len(parts) > 2 and parts[2] else issuer
    en = parts[3] if len(parts) > 3 and parts[3] else issuer
    use = parts[4].split(",") if len(parts) > 4 and parts[4] else ["code", "status"]
    bad = [u for u in use if u not in ("code", "status")]
    if bad:
        raise KeysError(f"--key {spec!r}: unknown use {bad[0]!r} (code, status)")
    return {"path": path, "issuer": issuer, "zh": zh, "en": en, "use": use}


def cmd_trust_list(args: argparse.Namespace) -> int:
    from keys.keyfile import load_public_key
    from keys.publishing import DccEntry, KeyEntry, sign_trust_list

    now = int(time.time())
    entries = []
    for spec in args.key:
        k = _parse_key_spec(spec)
        entries.append(KeyEntry(load_public_key(k["path"]), k["issuer"], k["zh"], k["en"], use=k["use"],
                                not_before=args.not_before if args.not_before is not None else now - 86400,
                                not_after=args.not_after if args.not_after is not None
                                else now + 2 * 365 * 86400))
    if not entries and not args.dcc:
        raise KeysError("keys trust-list: give at least one --key or --dcc")
    dcc = []
    for spec in args.dcc:
        path, _, country = spec.rpartition(":")
        if not path or not country:
            raise KeysError(f"--dcc {spec!r}: expected CERT.der:COUNTRY")
        try:
            dcc.append(DccEntry(Path(path).read_bytes(), country))
        except OSError as e:
            raise KeyFileError(f"{path}: cannot read the DSC: {e.strerror}") from None
    doc = sign_trust_list(_load_private(args, args.root), entries, version=args.version,
                          issued_at=now, next_update=now + args.valid_for, dcc=dcc)
    _write_json(args.out, doc)
    return 0


def _hex16(value: str, option: str) -> bytes:
    """A pseudonym or code id given as 32 hex digits; KeysError naming the option otherwise."""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 16:
        raise KeysError(f"{option} {value!r}: expected 16 bytes as 32 hex digits")
    return raw


def _read_subjects(path: str | None) -> list[tuple[bytes, int, int]]:
    """Subjects as JSON lines or a JSON list: {"sub": hex or b64, "s": 0-2, "sd": unix}."""
    import base64

    if not path:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8")
        items = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines()
                                                                          if x.strip()]
    except OSError as e:
        raise KeysError(f"{path}: cannot read: {e.strerror}") from None
    except ValueError as e:  # not UTF-8, not JSON
        raise KeysError(f"{path}: not JSON lines or a JSON list: {e}") from None
    out = []
    for i, item in enumerate(items):
        try:
            raw = item["sub"]
            sub = bytes.fromhex(raw) if len(raw) == 32 else base64.b64decode(raw, validate=True)
            if len(sub) != 16 or item["s"] not in (0, 1, 2):
                raise ValueError
            out.append((sub, int(item["s"]), int(item.get("sd", time.time()))))
        except (KeyError, ValueError, TypeError):
            raise KeysError(f"{path}: entry {i + 1}: expected {{\"sub\": 16 bytes hex/base64, "
                            "\"s\": 0|1|2, \"sd\": unix seconds}") from None
    return out


def cmd_status_list(args: argparse.Namespace) -> int:
    from keys.publishing import sign_status_list

    now = int(time.time())
    revoked = [_hex16(c, "--revoke") for c in args.revoke]
    doc = sign_status_list(_load_private(args, args.signer), issuer=args.issuer, version=args.version,
                           base=args.base, issued_at=now, next_update=now + args.valid_for,
                           subjects=_read_subjects(args.subjects), revoked=revoked)
    _write_json(args.out, doc)
    return 0


def cmd_dcc_revocation(args: argparse.Namespace) -> int:
    from keys.dccrevocation import HASH_TYPES, revocation_hash, sign_dcc_revocation

    hashes = [("UCI", revocation_hash(uci.encode())) for uci in args.uci]
    for spec in args.country_uci:
        country, sep, uci = spec.partition(":")
        if not sep or not country or not uci:
            raise KeysError(f"--country-uci {spec!r}: expected COUNTRY:UCI")
        hashes.append(("COUNTRYCODEUCI", revocation_hash((country + uci).encode())))
    for spec in args.hash:
        kind, _, value = spec.partition(":")
        try:
            h = bytes.fromhex(value)
        except ValueError:
            h = b""
        if kind not in HASH_TYPES or len(h) != 16:
            raise KeysError(f"--hash {spec!r}: expected {'|'.join(HASH_TYPES)}:HASH (16 bytes as hex)")
        hashes.append((kind, h))
    now = int(time.time())
    doc = sign_dcc_revocation(_load_private(args, args.root), hashes, version=args.version, issued_at=now,
                              next_update=now + args.valid_for)
    _write_json(args.out, doc)
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    if args.format == "dcc":
        from keys.dcccli import cmd_issue_dcc

        return cmd_issue_dcc(args)
    if not args.issuer:
        raise KeysError("keys issue: --issuer is required for HCC1 codes (e.g. --issuer CN-ZJ)")
    from keys.hcc1 import RELATIONS, STATUS_CODES, CodeClaims, issue_code, qr_png

    now = int(time.time())
    iat = args.iat if args.iat is not None else now
    guardian = None
    if args.guardian:
        gname, _, rel = args.guardian.partition(":")
        if rel not in RELATIONS:
            raise KeysError(f"--guardian {args.guardian!r}: expected NAME:RELATION, relation one of "
                            f"{', '.join(RELATIONS)}")
        guardian = (gname, RELATIONS[rel], os.urandom(16))
    claims = CodeClaims(iss=args.issuer, iat=iat, exp=iat + args.valid_for, name=args.name,
                        status=STATUS_CODES[args.status], card=args.card, guardian=guardian)
    if args.sub:
        claims.sub = _hex16(args.sub, "--sub")
    payload = issue_code(_load_private(args, args.key), claims)
    print(payload)
    if args.png:
        qr_png(payload, args.png)
        print(f"QR written to {args.png}", file=sys.stderr)
    print(f"code id {claims.cti.hex()} subject {claims.sub.hex()}", file=sys.stderr)
    return 0


# --- device CA: mutual TLS between devices and the hub -----------------------------------------
def cmd_ca_init(args: argparse.Namespace) -> int:
    from keys.deviceca import init_ca

    path = init_ca(args.dir, name=args.name, days=args.days, force=args.force)
    print(f"device CA created: {path} (keep {args.dir}/ca.key off the devices)")
    return 0


def cmd_server_cert(args: argparse.Namespace) -> int:
    from keys.deviceca import server_cert

    creds = server_cert(args.dir, args.host, args.out, days=args.days)
    print(f"hub server certificate: {creds.cert}, key: {creds.key}, CA: {creds.ca}")
    return 0


def cmd_enroll(args: argparse.Namespace) -> int:
    from keys.deviceca import enroll

    creds = enroll(args.ca_dir, args.device_id, args.out, days=args.days)
    print(f"device {args.device_id} enrolled: certificate {creds.cert}, key {creds.key}, hub CA {creds.ca}")
    return 0


def register_device(keys_subparsers: argparse._SubParsersAction) -> None:
    ca = keys_subparsers.add_parser("device-ca",
                                    help="the deployment's device CA for mutual TLS with the hub")
    sub = ca.add_subparsers(dest="device_ca_command", metavar="ACTION")
    sub.required = True
    init = sub.add_parser("init", help="create the CA key and certificate")
    init.add_argument("--dir", required=True, metavar="DIR", help="directory for ca.pem and ca.key")
    init.add_argument("--name", default="Checkpoint device CA", help="CA common name")
    init.add_argument("--days", type=int, default=3650, help="days the CA certificate is valid (default 3650)")
    init.add_argument("--force", action="store_true", help="replace an existing CA")
    init.set_defaults(func=cmd_ca_init)
    srv = sub.add_parser("server-cert", help="issue the hub's TLS server certificate")
    srv.add_argument("--dir", required=True, metavar="DIR", help="the CA directory")
    srv.add_argument("--host", action="append", required=True,
                     help="host name or IP address (repeat; e.g. --host 127.0.0.1 --host localhost)")
    srv.add_argument("--out", required=True, metavar="DIR", help="where hub.pem, hub.key, ca.pem go")
    srv.add_argument("--days", type=int, default=825, help="days the certificate is valid (default 825)")
    srv.set_defaults(func=cmd_server_cert)
    enr = keys_subparsers.add_parser("enroll", help="issue a device's client certificate")
    enr.add_argument("device_id", metavar="DEVICE_ID")
    enr.add_argument("--ca-dir", required=True, metavar="DIR", help="the device CA directory")
    enr.add_argument("--out", required=True, metavar="DIR",
                     help="where DEVICE_ID.pem, DEVICE_ID.key and ca.pem go")
    enr.add_argument("--days", type=int, default=825, help="days the certificate is valid (default 825)")
    enr.set_defaults(func=cmd_enroll)


def register(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="key, trust-list, status-list and code tooling (issuer side)")
    ks = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    ks.required = True
    register_device(ks)

    p = ks.add_parser("generate", help="create a root or issuer key pair")
    p.add_argument("out", help="path stem: writes STEM.key (PKCS#8, 0600) and STEM.pub.pem")
    p.add_argument("--alg", choices=("ES256", "EdDSA"), default="ES256", help="signature algorithm (default ES256)")
    p.add_argument("--force", action="store_true", help="replace existing key files")
    _add_passphrase(p)
    p.set_defaults(func=cmd_generate)

    p = ks.add_parser("trust-list", help="build and sign a trust list with the national root key")
    p.add_argument("--root", required=True, help="root private key")
    p.add_argument("--key", action="append", default=[],
                   metavar="PUB.pem:ISSUER[:ZH[:EN[:USE]]]", help="a key to list; repeatable")
    p.add_argument("--dcc", action="append", default=[], metavar="CERT.der:COUNTRY",
                   help="an EU DCC Document Signer Certificate to list; repeatable")
    p.add_argument("--version", type=int, required=True, help="must grow with every list")
    p.add_argument("--valid-for", type=valid_for, default=86400, help="seconds until next_update")
    p.add_argument("--not-before", type=int, metavar="UNIX",
                   help="each --key valid from (default: a day ago)")
    p.add_argument("--not-after", type=int, metavar="UNIX", help="each --key valid until (default: in two years)")
    p.add_argument("--out", default="-", metavar="FILE", help="where the signed list goes (default: stdout)")
    _add_passphrase(p)
    p.set_defaults(func=cmd_trust_list)

    p = ks.add_parser("status-list", help="build and sign a status list (snapshot, or delta with --base)")
    p.add_argument("--signer", required=True, help="issuer private key with 'status' use")
    p.add_argument("--issuer", required=True, help="the region whose list it is, e.g. CN-ZJ")
    p.add_argument("--version", type=int, required=True, help="must grow with every list")
    p.add_argument("--base", type=int, help="make a delta on this version")
    p.add_argument("--subjects", metavar="FILE", help="JSON lines {sub, s, sd}")
    p.add_argument("--revoke", action="append", default=[], metavar="CTI_HEX",
                   help="a revoked code id (16 bytes hex); repeatable")
    p.add_argument("--valid-for", type=valid_for, default=3600, help="seconds until next_update (default 3600)")
    p.add_argument("--out", default="-", metavar="FILE", help="where the signed list goes (default: stdout)")
    _add_passphrase(p)
    p.set_defaults(func=cmd_status_list)

    p = ks.add_parser("dcc-revocation", help="build and sign the EU DCC revocation list with the national root key")
    p.add_argument("--root", required=True, help="root private key (the trust list's anchor)")
    p.add_argument("--version", type=int, required=True, help="must grow with every list")
    p.add_argument("--uci", action="append", default=[], metavar="UCI", help="revoke by certificate identifier")
    p.add_argument("--country-uci", action="append", default=[], metavar="COUNTRY:UCI",
                   help="revoke by issuing country and certificate identifier")
    p.add_argument("--hash", action="append", default=[], metavar="TYPE:HEX",
                   help="a revocation hash as the EU gateway gives it: UCI, COUNTRYCODEUCI or SIGNATURE, 16 bytes")
    p.add_argument("--valid-for", type=valid_for, default=86400, help="seconds until next_update")
    p.add_argument("--out", default="-", metavar="FILE", help="where the signed list goes (default: stdout)")
    _add_passphrase(p)
    p.set_defaults(func=cmd_dcc_revocation)

    p = ks.add_parser("issue", help="issue a code: payload text, and a QR PNG with --png")
    p.add_argument("--format", choices=("hcc1", "dcc"), default="hcc1", help="HCC1 code or EU DCC (HC1:)")
    p.add_argument("--key", required=True, help="issuer private key (for dcc: the DSC's key)")
    p.add_argument("--issuer", help="HCC1: region, e.g. CN-ZJ; DCC: iss claim (default: --country)")
    p.add_argument("--name", default="张*三", help="masked display name")
    p.add_argument("--status", choices=("green", "yellow", "red"), default="green", help="the code's colour")
    p.add_argument("--card", action="store_true", help="printed card (status from status lists)")
    p.add_argument("--guardian", metavar="NAME:RELATION", help="e.g. 李*华:parent")
    p.add_argument("--sub", metavar="HEX", help="subject pseudonym (16 bytes hex); random by default")
    p.add_argument("--iat", type=int, metavar="UNIX", help="issue time (default: now)")
    p.add_argument("--valid-for", type=valid_for, default=86400, help="seconds from --iat to expiry (default 86400)")
    p.add_argument("--png", metavar="FILE", help="also write the code as a QR image")
    _add_passphrase(p)
    add_dcc_issue_options(p)
    p.set_defaults(func=cmd_issue)
    register_dsc(ks)
