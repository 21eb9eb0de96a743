"""Fixtures shared by the hub's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync.hub.store import HubStore


@pytest.fixture
def store(hub_db: str) -> Iterator[HubStore]:
    """A hub store on a fresh database, on each back end (`hub_db`)."""
    s = HubStore(hub_db)
    yield s
    s.close()
