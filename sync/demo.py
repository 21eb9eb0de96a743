"""The demo's local hub on loopback: a device CA, the reference hub as a process, and the sync agent.

The hub (`checkpoint hub serve`, mutual TLS on 127.0.0.1, a free port) publishes the demo world's trust
list and status lists; the sync agent runs in a thread beside the kiosk (on the appliance it is its own
service), uploads the visits the kiosk logs and writes `sync-status.json`, so the status bar shows
"online" and the pending count drain, and the trusted clock is confirmed by the hub's time.
"""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.demo.world import DemoWorld

log = logging.getLogger(__name__)


class LocalHub:
    def __init__(self, directory: Path, world: DemoWorld, device_id: str):
        self.directory = Path(directory)
        self.world = world
        self.device_id = device_id
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closers: list[Callable[[], None]] = []

    def start(self, timeout: float = 60.0) -> str:
        from keys.deviceca import enroll, init_ca, server_cert
        from sync.hub.publish import publish_status_list, publish_trust_list
        from sync.hub.store import HubStore

        d = self.directory
        ca_dir = d / "device-ca"
        init_ca(ca_dir)
        srv = server_cert(ca_dir, ["127.0.0.1", "localhost"], d / "hub-tls")
        self.device = enroll(ca_dir, self.device_id, d / "device-tls")
        self.ca = ca_dir / "ca.pem"
        store = HubStore(d / "hub.sqlite")
        try:
            publish_trust_list(store, self.world.trust_list_path)
            for p in self.world.status_list_paths:
                publish_status_list(store, p)
        finally:
            store.close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sync.hub", "serve", "--db", str(d / "hub.sqlite"), "--host", "127.0.0.1",
             "--port", "0", "--cert", str(srv.cert), "--key", str(srv.key), "--device-ca", str(self.ca),
             "--enrolled", str(ca_dir / "enrolled.jsonl")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines: queue.Queue[str] = queue.Queue()
        out = self.proc.stdout
        assert out is not None
        threading.Thread(target=lambda: lines.put(out.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise RuntimeError("the local hub did not start") from None
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"the local hub did not start: {line.strip()!r}")
        self.url = line.rsplit(" ", 1)[1].strip()
        return self.url

    def start_agent(self, data_dir: Path, *, interval: float = 3.0) -> None:
        """The sync agent on its own connections to the kiosk's data directory, every `interval` s."""
        from scanner.config import settings_from_dict
        from scanner.storage.stores import open_stores
        from sync.agent import AgentConfig, SyncAgent

        cfg = AgentConfig(url=self.url, client_cert=str(self.device.cert), client_key=str(self.device.key),
                          ca_cert=str(self.ca), data_dir=Path(data_dir), device_id=self.device_id,
                          interval=interval, backoff_max=interval * 2)
        settings = settings_from_dict({"device": {"data_dir": str(data_dir)},
                                       "trust": {"anchors": [str(self.world.anchor_path)]}}, source="<demo>")
        stores = open_stores(settings)
        assert stores.visit_log is not None
        agent = SyncAgent(cfg, stores.visit_log, stores.trust, stores.status, rules=stores.rules)
        self._closers = [agent.close, stores.close]
        self._thread = threading.Thread(target=agent.run, args=(self._stop,), name="demo-sync-agent",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)
        for close in self._closers:
            try:
                close()
            except Exception as e:  # closing at exit: report, do not mask the demo's result
                log.warning("closing the demo sync agent: %s", e)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
