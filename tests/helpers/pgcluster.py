"""A throwaway PostgreSQL cluster for tests and benchmarks, from Debian's `postgresql` binaries.

`PgCluster()` runs initdb in a fresh temporary directory and starts the server on 127.0.0.1 at a free
port (and a unix socket in the same directory); `stop()` shuts it down and removes everything.
PostgreSQL refuses to run as root, so when we are root the server runs as `nobody` (via `runuser`) in a
directory `nobody` owns. `database()` creates a fresh database and returns its URL, so tests do not see
each other's rows.

A watcher process stops the server when the process that started it is gone without calling `stop()`.
`PG_BIN` is where the binaries are; `pg_available()` says why not when they are missing (the tests then
skip with that reason).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

PG_BIN = Path(os.environ.get("CHECKPOINT_PG_BIN", "/usr/lib/postgresql/15/bin"))


def pg_available() -> str | None:
    """None when a cluster can be started here, else the reason it cannot."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).is_file():
            return f"PostgreSQL binaries not found in {PG_BIN} (apt install postgresql; scripts/setup.sh does)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start PostgreSQL as an unprivileged user"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    def __init__(self, *, fsync: bool = False, settings: dict[str, str] | None = None):
        why = pg_available()
        if why:
            raise RuntimeError(why)
        self.dir = Path(tempfile.mkdtemp(prefix="checkpoint-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("nobody")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "nobody", "--"]
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "--encoding=UTF8", "--locale=C.UTF-8", "-N"])
        conf = {"listen_addresses": "'127.0.0.1'", "port": str(self.port),
                "unix_socket_directories": f"'{self.dir}'", "fsync": "on" if fsync else "off",
                "synchronous_commit": "on" if fsync else "off", "full_page_writes": "on" if fsync else "off",
                "max_connections": "200", "shared_buffers": "256MB", "log_min_messages": "warning",
                **(settings or {})}
        with open(self.data / "postgresql.auto.conf", "a", encoding="utf-8") as f:
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                   "-t", "60", "start"])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # A test run killed before its teardown (a `timeout`, SIGKILL) must not leave the server behind:
        # a small watcher stops it once this process is gone (after a normal stop() it finds nothing to do).
        stop_cmd = " ".join([*self._as, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"])
        subprocess.Popen(["sh", "-c", f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 2; done; "
                          f"[ -d {self.data} ] && {stop_cmd} >/dev/null 2>&1; rm -rf {self.dir}"],
                         start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _run(self, args: list[str]) -> None:
        out = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120, cwd=self.dir)
        if out.returncode != 0:
            server_log = self.dir / "server.log"
            log = server_log.read_text(errors="replace")[-2000:] if server_log.exists() else ""
            raise RuntimeError(f"{Path(args[0]).name} failed: {out.stderr.strip()} {log}")

    @property
    def pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def database(self, name: str | None = None) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run([*self._as, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=120, cwd=self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
