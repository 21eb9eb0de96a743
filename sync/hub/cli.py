"""`checkpoint hub …`: serve, migrate, publish lists, the device registry, visits, logs and retention.

`--db` is a file path or `sqlite:///PATH` (one process, the pilot's default) or `postgresql://…` (any
number of hub processes). Commands that only read (`visits`, `logs`, `devices list`) never create a
database: a mistyped path is an error naming it.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.cli import argtypes
from scanner.errors import InputError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from sync.hub.healthbuffer import HealthBuffer
    from sync.hub.operator.auth import OperatorConfig
    from sync.hub.server import Apps, OperatorListener
    from sync.hub.store import HubStore

DB_HELP = "hub database: a file path, sqlite:///PATH or postgresql://USER@HOST/DB (default hub.sqlite)"
# How often a serving process applies retention (every process does; the work is idempotent).
RETENTION_EVERY = 3600.0


# A century: more is a typo, and a date that far back cannot be computed.
MAX_RETENTION_DAYS = 36500


def open_store(args: argparse.Namespace, *, create: bool = True, pool_size: int = 8) -> HubStore:
    from sync.hub.store import HubStore

    return HubStore(args.db, create=create, pool_size=pool_size)


def _shared_metrics_dir(workers: int) -> None:
    """With several workers, counters go to files they share so each one's /metrics adds all up.

    Must run before prometheus-client is imported (it picks its storage at import).
    """
    import atexit
    import os
    import shutil
    import tempfile

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == "":
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]  # set but empty, prometheus-client would write to the cwd
    if workers <= 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    if "prometheus_client" in sys.modules:
        print("checkpoint hub: metrics are per worker (prometheus-client was loaded before the workers)",
              file=sys.stderr)
        return
    path = tempfile.mkdtemp(prefix="checkpoint-hub-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    atexit.register(shutil.rmtree, path, True)


def cmd_serve(args: argparse.Namespace) -> int:
    _shared_metrics_dir(args.workers)
    from sync.hub.server import serve

    for name in ("cert", "key", "device_ca"):
        if not Path(getattr(args, name)).is_file():
            raise InputError(f"--{name.replace('_', '-')} {getattr(args, name)}: no such file")
    if not 0 <= args.retention_days <= MAX_RETENTION_DAYS:
        raise InputError(f"--retention-days {args.retention_days}: give 0 (keep everything) to "
                         f"{MAX_RETENTION_DAYS} days")
    operator = _operator_listener(args)
    # Migrate once, in the parent, before any worker starts serving.
    open_store(args, pool_size=1).close()

    def make_apps() -> Apps:
        """The device API and the operator pages of one serving process (its own database pool)."""
        from sync.hub.app import create_app
        from sync.hub.healthbuffer import HealthBuffer
        from sync.hub.ingest import IngestRules

        store = open_store(args, pool_size=args.pool_size)
        if args.retention_days > 0:
            threading.Thread(target=_retention_loop, args=(store, args.retention_days), daemon=True,
                             name="retention").start()
        rules = IngestRules(max_ahead_ms=int(args.max_clock_ahead * 1000),
                            max_age_days=args.retention_days if args.retention_days > 0 else 3650)
        health = HealthBuffer(store)
        app = create_app(store, enrolled=args.enrolled, rules=rules, admissions_window_s=args.admissions_window,
                         health_records=health, list_window=args.list_cache)
        return app, _operator_app(args, store, health) if operator else None

    serve(make_apps, host=args.host, port=args.port, certfile=args.cert, keyfile=args.key,
          device_ca=args.device_ca, workers=args.workers, log_level="debug" if args.debug else "warning",
          operator=operator)
    return 0


def _operator_listener(args: argparse.Namespace) -> OperatorListener | None:
    """Where the operator pages listen, from `--operator-*`, or None; refuses plain HTTP beyond loopback."""
    import ipaddress

    from sync.hub.server import OperatorListener

    if not args.operator_listen:
        if args.operator_config:
            raise InputError("--operator-config needs --operator-listen HOST:PORT")
        return None
    host, sep, port = args.operator_listen.rpartition(":")
    host = host.strip("[]")
    try:
        port_number = argtypes.port(port)
    except argparse.ArgumentTypeError:
        port_number = None
    if not sep or not host or port_number is None:
        raise InputError(f"--operator-listen {args.operator_listen}: expected HOST:PORT")
    if not args.operator_config:
        raise InputError("--operator-listen needs --operator-config FILE (operators and their password hashes)")
    if bool(args.operator_cert) != bool(args.operator_key):
        raise InputError("--operator-cert and --operator-key go together")
    for name in ("operator_cert", "operator_key"):
        if getattr(args, name) and not Path(getattr(args, name)).is_file():
            raise InputError(f"--{name.replace('_', '-')} {getattr(args, name)}: no such file")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not args.operator_cert and not loopback:
        raise InputError(f"--operator-listen {args.operator_listen}: plain HTTP only on a loopback address; "
                         "give --operator-cert and --operator-key for TLS")
    if args.offline_after <= 0:
        raise InputError("--offline-after must be a positive number of seconds")
    # The configuration is read here too, so a bad file stops the start with its message.
    _operator_config(args)
    return OperatorListener(host, port_number, args.operator_cert, args.operator_key)


def _operator_config(args: argparse.Namespace) -> OperatorConfig:
    from sync.hub.operator.auth import load_operator_config

    return load_operator_config(args.operator_config)


def _operator_app(args: argparse.Namespace, store: HubStore, health: HealthBuffer) -> FastAPI:
    from sync.hub.devicehealth import Thresholds
    from sync.hub.operator.pages import create_operator_app

    return create_operator_app(store, _operator_config(args), thresholds=Thresholds(offline_after=args.offline_after),
                               secure_cookies=bool(args.operator_cert), health=health)


def cmd_operator_password(args: argparse.Namespace) -> int:
    import getpass
    import secrets

    from sync.hub.operator.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise InputError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 10:
        raise InputError("a password of at least 10 characters, please")
    if args.new_secret:
        print(f'session_secret = "{secrets.token_urlsafe(32)}"\n')
    print(f'[operators.{json.dumps(args.name)}]\npassword = "{hash_password(password)}"')
    return 0


def _retention_loop(store: HubStore, days: int) -> None:
    import logging

    stop = threading.Event()
    while True:
        try:
            store.retain(days)
        except Exception as e:  # a failed pass is retried at the next; serving goes on
            logging.getLogger("sync.hub").warning("retention: %s", e)
        stop.wait(RETENTION_EVERY)


def cmd_migrate(args: argparse.Namespace) -> int:
    from sync.hub.db import schema_version

    store = open_store(args, pool_size=1)
    with store.db.read() as tx:
        print(f"hub database {args.db}: schema version {schema_version(tx)}")
    store.close()
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from sync.hub.publish import (
        publish_dcc_revocation,
        publish_profiles,
        publish_rules_list,
        publish_status_list,
        publish_trust_list,
    )

    store = open_store(args, pool_size=1)
    if args.hub_command == "publish-profiles":
        pub = publish_profiles(store, args.file)
        print(f"published venue profiles version {pub.version}")
    elif args.hub_command == "publish-trust-list":
        pub = publish_trust_list(store, args.file)
        print(f"published trust list version {pub.version} (ETag {pub.etag})")
    elif args.hub_command == "publish-rules-list":
        pub = publish_rules_list(store, args.file)
        print(f"published rules list version {pub.version} (ETag {pub.etag})")
    elif args.hub_command == "publish-dcc-revocation":
        pub = publish_dcc_revocation(store, args.file)
        print(f"published DCC revocation list version {pub.version} (ETag {pub.etag})")
    else:
        pub = publish_status_list(store, args.file)
        kind = "snapshot" if pub.base is None else f"delta on {pub.base}"
        print(f"published status list {pub.issuer} version {pub.version} ({kind})")
    store.close()
    return 0


def cmd_visits(args: argparse.Namespace) -> int:
    from scanner.cli.times import parse_instant_ms

    store = open_store(args, create=False, pool_size=1)
    since = parse_instant_ms(args.since, "--since") if args.since else None
    until = parse_instant_ms(args.until, "--until") if args.until else None
    if args.count:
        n = store.count(args.device, since, until)
        print(n)
        print(f"{n} visits, {store.count_flagged(args.device, since, until)} flagged chain breaks", file=sys.stderr)
        return 0
    n = breaks = 0
    for row in store.visits(args.device, since, until):
        n += 1
        breaks += not row["chain_ok"]
        sys.stdout.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{n} visits, {breaks} flagged chain breaks", file=sys.stderr)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    """Each device log's head and missing ranges; refusals and conflicts with --problems."""
    store = open_store(args, create=False, pool_size=1)
    missing = 0
    for log in store.logs(args.device):
        missing += len(log["gaps"])
        print(json.dumps(log, sort_keys=True))
    if args.problems:
        for r in store.refusals(args.device):
            print(json.dumps({"refused": r}, sort_keys=True))
        for c in store.conflicts(args.device):
            print(json.dumps({"conflict": c}, sort_keys=True))
    print(f"{missing} missing ranges", file=sys.stderr)
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from sync.hub.registry import Registry

    store = open_store(args, create=args.devices_command != "list", pool_size=1)
    reg = Registry(store, ttl=0)
    if args.devices_command == "list":
        for d in reg.devices():
            print(json.dumps(d, sort_keys=True))
    elif args.devices_command == "import":
        added = reg.import_file(args.file)
        print(f"{added} certificate(s) added to the registry")
    elif args.devices_command == "place":
        reg.place(args.device_id, site=args.site, checkpoints=args.checkpoint)
        print(f"device {args.device_id}: site {args.site or '-'}, venues {', '.join(args.checkpoint or ['any'])}")
    else:
        reg.revoke(args.device_id, serial=args.serial, reason=args.reason or "")
        what = f"certificate {args.serial} of device {args.device_id}" if args.serial else f"device {args.device_id}"
        print(f"{what} revoked: every hub process refuses it within {reg.ttl or 1:g} s")
    store.close()
    return 0


def cmd_retain(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= MAX_RETENTION_DAYS:
        raise InputError(f"--days {args.days}: give 1 to {MAX_RETENTION_DAYS} whole days (visits older are removed)")
    store = open_store(args, create=False, pool_size=1)
    removed = store.retain(args.days)
    unit = "day partitions dropped" if store.dialect == "postgresql" else "visits deleted"
    print(f"{removed} {unit} (older than {args.days} days)")
    store.close()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    hub = subparsers.add_parser("hub", help="the reference hub: serve, publish lists, devices, visits")
    sub = hub.add_subparsers(dest="hub_command", metavar="ACTION")
    sub.required = True

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", default="hub.sqlite", metavar="URL", help=DB_HELP)
        return p

    s = with_db(sub.add_parser("serve", help="serve the hub API on TLS with client certificates"))
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=argtypes.port, default=8443, help="TCP port (0 picks a free one and prints it)")
    s.add_argument("--cert", required=True, metavar="PEM",
                   help="server certificate (from `checkpoint keys device-ca server-cert`)")
    s.add_argument("--key", required=True, metavar="PEM", help="server private key")
    s.add_argument("--device-ca", required=True, metavar="PEM",
                   help="CA certificate that signs the device certificates")
    s.add_argument("--enrolled", metavar="FILE",
                   help="the device CA's enrolled.jsonl: its lines are added to the device registry whenever "
                        "it changes (it may appear later; the registry in the database is always checked)")
    s.add_argument("--workers", type=argtypes.count, default=1, help="processes sharing the port (default 1)")
    s.add_argument("--pool-size", type=argtypes.count, default=8, help="database connections per process (PostgreSQL)")
    s.add_argument("--retention-days", type=int, default=28,
                   help="visits older than this are removed, and refused on upload (0 keeps everything)")
    s.add_argument("--max-clock-ahead", type=argtypes.seconds, default=3600, metavar="SECONDS",
                   help="refuse visits timed further than this past the hub's clock (default 3600)")
    s.add_argument("--admissions-window", type=argtypes.seconds, default=86_400, metavar="SECONDS",
                   help="admissions at a device's site sent with each round (default 24 h)")
    s.add_argument("--list-cache", type=argtypes.seconds, default=1.0, metavar="SECONDS",
                   help="rounds read the published lists' versions and site admissions at most this often per "
                        "process: a publication reaches devices' rounds within this time (default 1; 0 reads "
                        "them for every round)")
    s.add_argument("--operator-listen", metavar="HOST:PORT",
                   help="also serve the operator pages and /metrics here (plain HTTP on loopback, else TLS)")
    s.add_argument("--operator-config", metavar="TOML", help="operators' password hashes and the session secret")
    s.add_argument("--operator-cert", metavar="PEM", help="TLS certificate for the operator listener")
    s.add_argument("--operator-key", metavar="PEM", help="its private key")
    s.add_argument("--offline-after", type=argtypes.seconds, default=120.0, metavar="SECONDS",
                   help="a device not heard from for this long is shown offline (default 120)")
    s.set_defaults(func=cmd_serve)
    op = sub.add_parser("operator-password", help="hash an operator's password for the operator file")
    op.add_argument("name", metavar="NAME")
    op.add_argument("--new-secret", action="store_true", help="also print a fresh session_secret line")
    op.set_defaults(func=cmd_operator_password)
    m = with_db(sub.add_parser("migrate", help="create or upgrade the hub database's schema"))
    m.set_defaults(func=cmd_migrate)
    for name, what in (("publish-trust-list", "a signed trust list (JWS JSON file)"),
                       ("publish-status-list", "a signed status list (JWS JSON file)"),
                       ("publish-rules-list", "a signed rules list (JWS JSON file; checkpoint rules sign-list)"),
                       ("publish-dcc-revocation",
                        "a signed EU DCC revocation list (JWS JSON file; checkpoint keys dcc-revocation)"),
                       ("publish-profiles", "venue profile overrides (TOML: version, [profiles.NAME])")):
        p = with_db(sub.add_parser(name, help=f"publish {what} for devices to fetch"))
        p.add_argument("file", metavar="FILE")
        p.set_defaults(func=cmd_publish)
    v = with_db(sub.add_parser("visits", help="list visits that arrived (JSON lines)"))
    v.add_argument("--device", metavar="ID", help="only this device's visits")
    v.add_argument("--since", metavar="WHEN", help="Unix seconds or ISO date")
    v.add_argument("--until", metavar="WHEN", help="Unix seconds or ISO date (exclusive)")
    v.add_argument("--count", action="store_true", help="only print the number of visits")
    v.set_defaults(func=cmd_visits)
    lg = with_db(sub.add_parser("logs", help="each device log's head, signed checkpoint and missing seq ranges"))
    lg.add_argument("--device", metavar="ID", help="only this device's logs")
    lg.add_argument("--problems", action="store_true", help="also list refused rows and conflicts")
    lg.set_defaults(func=cmd_logs)
    r = with_db(sub.add_parser("retain", help="remove visits older than --days now (serve does it hourly)"))
    r.add_argument("--days", type=int, required=True, help="keep the visits of the last DAYS days")
    r.set_defaults(func=cmd_retain)
    d = sub.add_parser("devices", help="the device registry: list, import, place, revoke")
    dsub = d.add_subparsers(dest="devices_command", metavar="ACTION")
    dsub.required = True
    with_db(dsub.add_parser("list", help="registered devices (JSON lines)"))
    di = with_db(dsub.add_parser("import", help="add the certificates of a device CA's enrolled.jsonl"))
    di.add_argument("file", metavar="ENROLLED_JSONL")
    dp = with_db(dsub.add_parser("place", help="register a device's site and venues"))
    dp.add_argument("device_id", metavar="DEVICE")
    dp.add_argument("--site", help="site (gates of one site share admissions for anti-passback)")
    dp.add_argument("--checkpoint", action="append", metavar="ID",
                    help="a venue (checkpoint_id) the device may log visits for; repeat; none: any")
    dr = with_db(dsub.add_parser("revoke", help="refuse a device (or one certificate of it) from now on"))
    dr.add_argument("device_id", metavar="DEVICE")
    dr.add_argument("--serial", help="revoke only this certificate (hex serial from `devices list`/enrolled.jsonl)")
    dr.add_argument("--reason", help="why, kept in the registry (e.g. stolen)")
    d.set_defaults(func=cmd_devices)
    o = sub.add_parser("openapi", help="write the hub's OpenAPI document")
    o.add_argument("--output", "-o", metavar="FILE", help="output file (default: standard output)")
    o.set_defaults(func=cmd_openapi)


def cmd_openapi(args: argparse.Namespace) -> int:
    from sync.hub.app import create_app
    from sync.hub.store import HubStore

    doc = json.dumps(create_app(HubStore(":memory:")).openapi(), indent=2, ensure_ascii=False)
    if args.output:
        Path(args.output).write_text(doc + "\n", encoding="utf-8")
    else:
        print(doc)
    return 0
