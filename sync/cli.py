"""`checkpoint sync` (the device's sync agent) and `checkpoint hub …` (the reference hub)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from scanner.errors import InputError


def _hub_store(args: argparse.Namespace) -> Any:
    from sync.hub.store import HubStore

    return HubStore(args.db)


def cmd_hub_serve(args: argparse.Namespace) -> int:
    from sync.hub.app import create_app
    from sync.hub.server import serve

    for name in ("cert", "key", "device_ca"):
        if not Path(getattr(args, name)).is_file():
            raise InputError(f"--{name.replace('_', '-')} {getattr(args, name)}: no such file")
    store = _hub_store(args)
    app = create_app(store, enrolled=args.enrolled)
    serve(app, host=args.host, port=args.port, certfile=args.cert, keyfile=args.key,
          device_ca=args.device_ca, log_level="debug" if args.debug else "warning")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from sync.hub.publish import publish_status_list, publish_trust_list

    store = _hub_store(args)
    if args.hub_command == "publish-trust-list":
        pub = publish_trust_list(store, args.file)
        print(f"published trust list version {pub.version} (ETag {pub.etag})")
    else:
        pub = publish_status_list(store, args.file)
        kind = "snapshot" if pub.base is None else f"delta on {pub.base}"
        print(f"published status list {pub.issuer} version {pub.version} ({kind})")
    return 0


def cmd_visits(args: argparse.Namespace) -> int:
    from scanner.cli_log import parse_since

    store = _hub_store(args)
    since = parse_since(args.since) if args.since else None
    n = breaks = 0
    for row in store.visits(args.device, since):
        n += 1
        breaks += not row["chain_ok"]
        if not args.count:
            sys.stdout.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{n} visits, {breaks} flagged chain breaks", file=sys.stderr)
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from sync.hub.app import create_app
    from sync.hub.store import HubStore

    doc = json.dumps(create_app(HubStore(":memory:")).openapi(), indent=2, ensure_ascii=False)
    if args.output:
        Path(args.output).write_text(doc + "\n", encoding="utf-8")
    else:
        print(doc)
    return 0


def register(subparsers: Any) -> None:
    hub = subparsers.add_parser("hub", help="the reference hub: serve, publish lists, query visits")
    sub = hub.add_subparsers(dest="hub_command", metavar="ACTION")
    sub.required = True

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", default="hub.sqlite", metavar="FILE", help="hub database (default hub.sqlite)")
        return p

    s = with_db(sub.add_parser("serve", help="serve the hub API on TLS with client certificates"))
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8443, help="TCP port (0 picks a free one and prints it)")
    s.add_argument("--cert", required=True, metavar="PEM",
                   help="server certificate (from `checkpoint keys device-ca server-cert`)")
    s.add_argument("--key", required=True, metavar="PEM", help="server private key")
    s.add_argument("--device-ca", required=True, metavar="PEM",
                   help="CA certificate that signs the device certificates")
    s.add_argument("--enrolled", metavar="FILE",
                   help="enrolled.jsonl of the device CA: only certificates listed there are accepted")
    s.set_defaults(func=cmd_hub_serve)
    for name, what in (("publish-trust-list", "a signed trust list"),
                       ("publish-status-list", "a signed status list")):
        p = with_db(sub.add_parser(name, help=f"publish {what} (JWS JSON file) for devices to fetch"))
        p.add_argument("file", metavar="FILE")
        p.set_defaults(func=cmd_publish)
    v = with_db(sub.add_parser("visits", help="list visits that arrived (JSON lines)"))
    v.add_argument("--device", metavar="ID")
    v.add_argument("--since", metavar="WHEN", help="Unix seconds or ISO date")
    v.add_argument("--count", action="store_true", help="only print the totals")
    v.set_defaults(func=cmd_visits)
    o = sub.add_parser("openapi", help="write the hub's OpenAPI document")
    o.add_argument("--output", "-o", metavar="FILE")
    o.set_defaults(func=cmd_openapi)
