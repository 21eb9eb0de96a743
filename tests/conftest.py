"""Shared test set-up: Qt offscreen, and a generated health-code world for tests that need one."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

# Before anything imports Qt: no display exists in CI.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from scanner.demo.world import DemoWorld, build_demo_world
from tests.helpers import VECTORS
from tests.helpers.notifysock import notify_socket_at


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> DemoWorld:
    """Keys, a trust list, status lists and sample codes of every kind, valid around now."""
    return build_demo_world(tmp_path_factory.mktemp("world"), int(time.time()), qr=True)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    """systemd's notify socket, real: (socket to read with `tests.helpers.notifysock.drain`, environment)."""
    with notify_socket_at(tmp_path / "notify.sock") as pair:
        yield pair


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    if not VECTORS.is_dir():
        pytest.fail(f"conformance vectors not found at {VECTORS} (the vendored vectors belong in the repository)")
    return VECTORS


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """One throwaway PostgreSQL cluster for the session. scripts/setup.sh installs Debian's PostgreSQL, so a
    machine where none can start fails these tests with the reason instead of passing them quietly."""
    from tests.helpers.pgcluster import PgCluster, pg_available

    why = pg_available()
    if why:
        pytest.fail(f"no PostgreSQL for the tests: {why} (run scripts/setup.sh)", pytrace=False)
    cluster = PgCluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh hub database URL on each back end: a SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "hub.sqlite")
    return str(request.getfixturevalue("pg_cluster").database())  # type: ignore[attr-defined]
