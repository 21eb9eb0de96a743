"""`checkpoint log verify|export|salvage|acknowledge`: check the visit log's chain, copy it to a stick,
recover the visits of a damaged log, acknowledge that notice.

Export exists for sites with no network at all: the file goes to the hub on a USB stick. Salvage reads
a damaged log an operator names (`scanner/storage/salvage.py`, without the start-up's time bound) into
the log in use, whose sync agent uploads what the hub does not hold yet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from keys.durable import atomic_writer
from scanner.cli.times import parse_instant_ms
from scanner.errors import InputError, StorageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

    from scanner.storage.salvage import Salvage
    from scanner.storage.visitlog import VisitLog

EXIT_CHAIN_BROKEN = 1


def add_log_location(parser: argparse.ArgumentParser) -> None:
    """`--config`/`--data-dir`/`--db`: where `visits.sqlite` is (the later options win)."""
    parser.add_argument("--config", metavar="FILE", help="settings file (its device.data_dir and [log])")
    parser.add_argument("--data-dir", metavar="DIR", help="data directory holding visits.sqlite")
    parser.add_argument("--db", metavar="FILE", help="the visit log file itself")


def open_log(args: argparse.Namespace) -> VisitLog:
    from scanner.config import Settings, load_settings
    from scanner.storage.visitlog import VisitLog

    settings = load_settings(args.config) if args.config else Settings()
    path = Path(args.db) if args.db else Path(args.data_dir or settings.data_dir) / "visits.sqlite"
    if not path.exists():
        raise InputError(f"visit log {path}: no such file")
    return VisitLog(path, storage_cap_mb=settings.log.storage_cap_mb,
                    alarm_percent=settings.log.storage_alarm_percent)


def _device_key(args: argparse.Namespace) -> tuple[CertificatePublicKeyTypes | None, str | None]:
    """The device certificate's public key and device id, to check the log's signed checkpoints."""
    from cryptography import x509

    from scanner.config import Settings, load_settings

    settings = load_settings(args.config) if args.config else Settings()
    path = args.device_cert or settings.hub.client_cert
    if not path:
        return None, None
    try:
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        raise InputError(f"device certificate {path}: cannot read it ({e})") from None
    return cert.public_key(), args.device_id or settings.device.id


def cmd_verify(args: argparse.Namespace) -> int:
    public_key, device_id = _device_key(args)
    with open_log(args) as log:
        integrity = log.integrity_check()
        report = log.verify(public_key, device_id)
        state = log.storage()
        pending = log.pending_count()
    if integrity != "ok":
        print(f"visit log damaged: integrity check says {integrity}")
        return EXIT_CHAIN_BROKEN
    if not report.ok:
        print(f"chain BROKEN at row {report.bad_seq}: {report.problem} ({report.rows} rows read)")
        return EXIT_CHAIN_BROKEN
    anchored = ("no signed checkpoint yet" if report.anchored_seq is None
                else f"anchored up to seq {report.anchored_seq}"
                + ("" if public_key is not None else " (signatures not checked: no device certificate)"))
    print(f"ok: {report.rows} rows, chain intact, {pending} not yet synced, "
          f"{state.used_bytes // 1024} KiB used ({state.percent}% of cap); {anchored}")
    if state.alarm:
        print(f"warning: {state.message}")
    return 0


def cmd_salvage(args: argparse.Namespace) -> int:
    from scanner.config import load_settings
    from scanner.storage.salvage import salvage

    source = Path(args.file)
    if not source.is_file():
        raise InputError(f"damaged visit log {source}: no such file")
    with open_log(args) as log:
        if source.resolve() == log.path.resolve():
            raise InputError(f"{source} is the visit log in use: name a damaged log set aside (visits.sqlite.bad-N)")
        result = salvage(source)
        if args.config:
            _own_visits_only(result, load_settings(args.config).device.id, source)
        new = log.recovered.add(result)
        notice = log.recovered.notice()
    if result.problem and not result.recovered:
        print(f"{source}: no visit could be read: {result.problem}")
        return EXIT_CHAIN_BROKEN
    print(f"{source}: {result.recovered} visits recovered ({result.already_synced} the hub already held, "
          f"{new} newly kept for upload), {result.unreadable} could not be read"
          + (f", {result.altered} changed by the damage (uploaded flagged as chain breaks)" if result.altered else ""))
    if notice:
        print(f"notice until acknowledged: {notice}")
    return 0


def _own_visits_only(result: Salvage, device_id: str, source: Path) -> None:
    """The hub takes a device's visits only from that device: another's would be refused at every upload."""
    others = sorted({r["device_id"] for r in result.rows} - {device_id})
    if others:
        raise InputError(f"{source} holds visits of device {', '.join(others)}, not of {device_id}: salvage it "
                         "on that device, or with that device's --config")


def cmd_acknowledge(args: argparse.Namespace) -> int:
    with open_log(args) as log:
        open_ = log.recovered.salvages(unacknowledged=True)
        done = log.recovered.acknowledge()
        pending = log.recovered.pending_count()
    for s in open_:
        print(f"acknowledged: {s.text()}")
    if not done:
        print("nothing to acknowledge: no damaged visit log reported")
    if pending:
        print(f"{pending} recovered visits are still to upload; the sync agent sends them")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    since = parse_instant_ms(args.since, "--since") if args.since else None
    with open_log(args) as log:
        if args.output in (None, "-"):
            n = log.export(sys.stdout, fmt=args.format, since_ms=since)
        else:
            out = Path(args.output)
            try:
                with atomic_writer(out) as f:
                    n = log.export(f, fmt=args.format, since_ms=since)
            except OSError as e:
                raise StorageError(f"cannot write {out}: {e.strerror}") from e
            print(f"exported {n} visits to {out}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("log", help="the visit log: verify its chain, export it, salvage a damaged one")
    sub = p.add_subparsers(dest="log_command", metavar="ACTION")
    sub.required = True
    v = sub.add_parser("verify", help="check the hash chain and the database integrity")
    add_log_location(v)
    v.add_argument("--device-cert", metavar="PEM",
                   help="the device's client certificate, to check the signed checkpoints "
                        "(default: hub.client_cert of --config)")
    v.add_argument("--device-id", metavar="ID", help="device id the checkpoints name (default: device.id)")
    v.set_defaults(func=cmd_verify)
    e = sub.add_parser("export", help="write visits as JSON lines or CSV (for a USB stick)")
    add_log_location(e)
    e.add_argument("--since", metavar="WHEN", help="only visits from this time (Unix seconds or ISO date)")
    e.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="JSON lines (default) or CSV")
    e.add_argument("--output", "-o", metavar="FILE", help="output file (default: standard output)")
    e.set_defaults(func=cmd_export)
    s = sub.add_parser("salvage", help="recover the readable visits of a damaged log (visits.sqlite.bad-N) "
                                       "into the log in use, for upload")
    s.add_argument("file", metavar="FILE", help="the damaged visit log")
    add_log_location(s)
    s.set_defaults(func=cmd_salvage)
    a = sub.add_parser("acknowledge", help="clear the notice of a damaged visit log (after reading it)")
    add_log_location(a)
    a.set_defaults(func=cmd_acknowledge)
