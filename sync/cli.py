"""`checkpoint sync` (the device's sync agent) and `checkpoint hub …` (the reference hub)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.errors import InputError

if TYPE_CHECKING:
    from scanner.config import Settings
    from sync.agent import SyncAgent
    from sync.hub.server import OperatorListener
    from sync.hub.store import HubStore


def _hub_store(args: argparse.Namespace) -> HubStore:
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
          device_ca=args.device_ca, log_level="debug" if args.debug else "warning",
          operator=_operator_listener(args, store))
    return 0


def _operator_listener(args: argparse.Namespace, store: HubStore) -> OperatorListener | None:
    """The operator pages' listener from `--operator-*`, or None; refuses plain HTTP beyond loopback."""
    import ipaddress

    from sync.hub.devicehealth import Thresholds
    from sync.hub.operator.auth import load_operator_config
    from sync.hub.operator.pages import create_operator_app
    from sync.hub.server import OperatorListener

    if not args.operator_listen:
        if args.operator_config:
            raise InputError("--operator-config needs --operator-listen HOST:PORT")
        return None
    host, sep, port = args.operator_listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
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
    app = create_operator_app(store, load_operator_config(args.operator_config),
                              thresholds=Thresholds(offline_after=args.offline_after),
                              secure_cookies=bool(args.operator_cert))
    return OperatorListener(app, host, int(port), args.operator_cert, args.operator_key)


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


def cmd_publish(args: argparse.Namespace) -> int:
    from sync.hub.publish import publish_profiles, publish_rules_list, publish_status_list, publish_trust_list

    store = _hub_store(args)
    if args.hub_command == "publish-profiles":
        pub = publish_profiles(store, args.file)
        print(f"published venue profiles version {pub.version}")
    elif args.hub_command == "publish-trust-list":
        pub = publish_trust_list(store, args.file)
        print(f"published trust list version {pub.version} (ETag {pub.etag})")
    elif args.hub_command == "publish-rules-list":
        pub = publish_rules_list(store, args.file)
        print(f"published rules list version {pub.version} (ETag {pub.etag})")
    else:
        pub = publish_status_list(store, args.file)
        kind = "snapshot" if pub.base is None else f"delta on {pub.base}"
        print(f"published status list {pub.issuer} version {pub.version} ({kind})")
    return 0


def cmd_visits(args: argparse.Namespace) -> int:
    from scanner.cli.log import parse_since

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


def build_agent(args: argparse.Namespace, settings: Settings) -> SyncAgent:
    """The agent with its visit log, trust store and status store, from the settings."""
    from scanner.service import sdnotify
    from scanner.storage.stores import open_stores
    from sync.agent import AgentConfig, SyncAgent

    if args.data_dir:
        settings = settings.replace(device=dataclasses.replace(settings.device, data_dir=args.data_dir))
    config = AgentConfig.from_settings(settings)
    # Without a trust anchor the agent still uploads visits; it just cannot take lists.
    stores = open_stores(settings, require_trust=False)
    interval = sdnotify.watchdog_interval()
    if interval:
        config.watchdog_ping = min(config.watchdog_ping, interval / 2)
    assert stores.visit_log is not None
    return SyncAgent(config, stores.visit_log, stores.trust, stores.status, notifier=sdnotify.Notifier(),
                     rules=stores.rules)


# Seconds the agent's round may take to wind down after SIGTERM (systemd waits longer; the promise is 5 s).
STOP_GRACE = 3.0


def cmd_sync(args: argparse.Namespace) -> int:
    from scanner.config import Settings, load_settings

    settings = load_settings(args.config) if args.config else Settings()
    if args.status:
        from scanner.storage.syncstate import read_status

        state = read_status(args.data_dir or settings.data_dir)
        print(json.dumps(dataclasses.asdict(state) if state else None, indent=1, sort_keys=True))
        return 0 if state else 1
    if not args.once:
        from scanner.service.logsetup import configure_logging

        # The daemon's logs go to journald as structured lines; --once stays a plain command.
        configure_logging(settings.log)
    agent = build_agent(args, settings)
    if args.once:
        report = agent.run_once()
        print(f"sync ok: {report.uploaded} uploaded, {report.duplicates} already on the hub, "
              f"{agent.state.pending} pending; trust list {report.trust_list}; "
              + ("; ".join(f"{k} {v}" for k, v in report.status_lists.items()) or "no status lists")
              + f"; rules list {report.rules}; venue profiles {report.profiles}")
        if report.chain_breaks:
            print(f"warning: the hub flagged {report.chain_breaks} chain breaks", file=sys.stderr)
        return 0
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Rounds run in a worker thread so the main thread can keep the promise of stopping within
    # seconds of SIGTERM: the stop event breaks off a running request at once, and should anything
    # still block, the process exits anyway (every write is a committed transaction or an atomic rename).
    worker = threading.Thread(target=agent.run, args=(stop,), name="sync-rounds", daemon=True)
    worker.start()
    try:
        while worker.is_alive() and not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        stop.set()
    worker.join(STOP_GRACE)
    if worker.is_alive():
        print(f"checkpoint sync: a round did not end within {STOP_GRACE:g} s of the stop request; exiting",
              file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sync", help="upload the visit log to the hub, fetch trust and status lists")
    p.add_argument("--config", metavar="FILE", help="settings file ([hub], [sync], [log], [trust])")
    p.add_argument("--data-dir", metavar="DIR", help="override device.data_dir")
    p.add_argument("--once", action="store_true", help="one round, then exit (non-zero if it failed)")
    p.add_argument("--status", action="store_true", help="print the last sync-status.json and exit")
    p.set_defaults(func=cmd_sync)

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
    s.add_argument("--operator-listen", metavar="HOST:PORT",
                   help="also serve the operator pages and /metrics here (plain HTTP on loopback, else TLS)")
    s.add_argument("--operator-config", metavar="TOML", help="operators' password hashes and the session secret")
    s.add_argument("--operator-cert", metavar="PEM", help="TLS certificate for the operator listener")
    s.add_argument("--operator-key", metavar="PEM", help="its private key")
    s.add_argument("--offline-after", type=float, default=120.0, metavar="SECONDS",
                   help="a device not heard from for this long is shown offline (default 120)")
    s.set_defaults(func=cmd_hub_serve)
    op = sub.add_parser("operator-password", help="hash an operator's password for the operator file")
    op.add_argument("name", metavar="NAME")
    op.add_argument("--new-secret", action="store_true", help="also print a fresh session_secret line")
    op.set_defaults(func=cmd_operator_password)
    for name, what in (("publish-trust-list", "a signed trust list (JWS JSON file)"),
                       ("publish-status-list", "a signed status list (JWS JSON file)"),
                       ("publish-rules-list", "a signed rules list (JWS JSON file; checkpoint rules sign-list)"),
                       ("publish-profiles", "venue profile overrides (TOML: version, [profiles.NAME])")):
        p = with_db(sub.add_parser(name, help=f"publish {what} for devices to fetch"))
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
