"""`checkpoint sync`: the device's sync agent (`checkpoint hub …` is in `sync/hub/cli.py`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.config import Settings
    from sync.agent import SyncAgent


def build_agent(args: argparse.Namespace, settings: Settings) -> SyncAgent:
    """The agent with its visit log, trust store and status store, from the settings."""
    from scanner.service import sdnotify
    from scanner.storage.stores import open_stores
    from sync.agent import AgentConfig, SyncAgent

    if args.data_dir:
        settings = dataclasses.replace(settings, device=dataclasses.replace(settings.device, data_dir=args.data_dir))
    config = AgentConfig.from_settings(settings)
    # Without a trust anchor the agent still uploads visits; it just cannot take lists.
    stores = open_stores(settings, require_trust=False)
    interval = sdnotify.watchdog_interval()
    if interval:
        config.watchdog_ping = min(config.watchdog_ping, interval / 2)
    assert stores.visit_log is not None
    return SyncAgent(config, stores.visit_log, stores.trust, stores.status, notifier=sdnotify.Notifier(),
                     rules=stores.rules)


def offline_only(settings: Settings) -> int:
    """The daemon on a device without a hub (`[hub] url` empty, the example's default, which the installer's
    enabled unit meets): nothing to sync. Ready, then done with exit 0, which systemd (Restart=on-failure)
    leaves be, rather than a failure it would restart every 15 s for good."""
    import logging

    from scanner.service.sdnotify import Notifier

    text = "offline only: no [hub] url set, nothing to sync"
    notifier = Notifier()
    notifier.ready()
    notifier.status(text)
    logging.getLogger("sync.agent").warning("%s (%s); the agent exits until the hub is set and it is started "
                                            "again", text, settings.source)
    notifier.stopping()
    return 0


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
        if not settings.hub.url:
            return offline_only(settings)
    agent = build_agent(args, settings)
    if args.once:
        report = agent.run_once()
        print(f"sync ok: {report.uploaded} uploaded, {report.duplicates} already on the hub, "
              f"{agent.state.pending} pending; trust list {report.trust_list}; "
              + ("; ".join(f"{k} {v}" for k, v in report.status_lists.items())
                 # The round fetches only the lists the hub says changed: none fetched is not none held.
                 or ("status lists unchanged" if agent.state.status_lists else "no status lists"))
              + f"; DCC revocation list {report.dcc_revocation}; rules list {report.rules}"
              + f"; venue profiles {report.profiles}")
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
    if not stop.is_set():
        # The rounds ended by themselves: a failure, so that systemd (Restart=on-failure) starts it again.
        print("checkpoint sync: the sync rounds stopped unexpectedly; exiting to be restarted", file=sys.stderr)
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sync", help="upload the visit log to the hub, fetch trust and status lists")
    p.add_argument("--config", metavar="FILE", help="settings file ([hub], [sync], [log], [trust])")
    p.add_argument("--data-dir", metavar="DIR", help="override device.data_dir")
    p.add_argument("--once", action="store_true", help="one round, then exit (non-zero if it failed)")
    p.add_argument("--status", action="store_true", help="print the last sync-status.json and exit")
    p.set_defaults(func=cmd_sync)
