"""`checkpoint keys device-ca init|server-cert` and `checkpoint keys enroll DEVICE_ID`.

`register(keys_subparsers)` is called by `keys/cli.py` with the sub-parsers of `checkpoint keys`.
"""

from __future__ import annotations

import argparse
from typing import Any


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


def register(keys_subparsers: Any) -> None:
    ca = keys_subparsers.add_parser("device-ca",
                                    help="the deployment's device CA for mutual TLS with the hub")
    sub = ca.add_subparsers(dest="device_ca_command", metavar="ACTION")
    sub.required = True
    init = sub.add_parser("init", help="create the CA key and certificate")
    init.add_argument("--dir", required=True, metavar="DIR", help="directory for ca.pem and ca.key")
    init.add_argument("--name", default="Checkpoint device CA", help="CA common name")
    init.add_argument("--days", type=int, default=3650)
    init.add_argument("--force", action="store_true", help="replace an existing CA")
    init.set_defaults(func=cmd_ca_init)
    srv = sub.add_parser("server-cert", help="issue the hub's TLS server certificate")
    srv.add_argument("--dir", required=True, metavar="DIR", help="the CA directory")
    srv.add_argument("--host", action="append", required=True,
                     help="host name or IP address (repeat; e.g. --host 127.0.0.1 --host localhost)")
    srv.add_argument("--out", required=True, metavar="DIR", help="where hub.pem, hub.key, ca.pem go")
    srv.add_argument("--days", type=int, default=825)
    srv.set_defaults(func=cmd_server_cert)
    enr = keys_subparsers.add_parser("enroll", help="issue a device's client certificate")
    enr.add_argument("device_id", metavar="DEVICE_ID")
    enr.add_argument("--ca-dir", required=True, metavar="DIR", help="the device CA directory")
    enr.add_argument("--out", required=True, metavar="DIR",
                     help="where DEVICE_ID.pem, DEVICE_ID.key and ca.pem go")
    enr.add_argument("--days", type=int, default=825)
    enr.set_defaults(func=cmd_enroll)
