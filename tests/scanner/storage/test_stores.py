"""`open_stores` on a data directory whose files a worn SD card or a power cut damaged: the device starts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from scanner.config import Settings
from scanner.errors import StorageError
from scanner.storage.chain import new_visit_id
from scanner.storage.stores import open_stores
from scanner.storage.visitlog import VisitLog, VisitRecord


def _record() -> VisitRecord:
    now = time.time()
    return VisitRecord(visit_id=new_visit_id(now), ts_ms=int(now * 1000), device_id="gate-1", checkpoint_id="east",
                       profile="transport", clock_trusted=True, verdict="ok", admit=True, tone="pass")


@pytest.mark.parametrize("damage", ["garbage_tail", "not_a_database"])
def test_a_damaged_visit_log_is_kept_aside_and_a_new_log_started(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "visits.sqlite"
    with VisitLog(path) as old:
        for _ in range(40):
            old.append(_record())
        old_id = old.log_id
    damaged = path.read_bytes()[:6000] + b"garbage" * 500 if damage == "garbage_tail" else b"garbage" * 500
    path.write_bytes(damaged)

    stores = open_stores(Settings(), require_trust=False, data_dir=tmp_path)
    try:
        assert stores.visit_log is not None
        # A new log, with an id of its own (the hub tells its rows from the old log's), takes visits at once.
        assert stores.visit_log.log_id != old_id and list(stores.visit_log.rows()) == []
        stores.visit_log.append(_record())
        assert len(list(stores.visit_log.rows())) == 1
    finally:
        stores.close()
    # The damaged file, with whatever visits it still holds, is kept for recovery, never overwritten.
    assert (tmp_path / "visits.sqlite.bad-1").read_bytes() == damaged


def test_a_visit_log_that_cannot_be_opened_for_another_reason_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "visits.sqlite").mkdir()  # not the file's content: nothing is set aside, the error is told
    with pytest.raises(StorageError, match="cannot open"):
        open_stores(Settings(), require_trust=False, data_dir=tmp_path)
    assert (tmp_path / "visits.sqlite").is_dir() and not list(tmp_path.glob("*.bad-*"))


@pytest.mark.parametrize("where", ["under_a_file", "trust_folder_is_a_file"])
def test_a_data_directory_that_cannot_be_written_is_named(tmp_path: Path, world, where: str) -> None:
    """A mistyped `device.data_dir`, or one the systemd unit may not write (ReadWritePaths=), is an error
    naming the setting and the path, not an internal error."""
    from scanner.config import settings_from_dict

    (tmp_path / "file").write_text("")
    data = tmp_path / "file" / "data" if where == "under_a_file" else tmp_path / "data"
    if where == "trust_folder_is_a_file":
        data.mkdir()
        (data / "trust").write_text("")
    settings = settings_from_dict({"device": {"data_dir": str(data)},
                                   "trust": {"anchors": [str(world.anchor_path)],
                                             "trust_list": str(world.trust_list_path)}})
    with pytest.raises(StorageError, match=f"device.data_dir {data}: cannot write"):
        open_stores(settings)


def test_a_bootstrap_status_list_already_held_is_not_read_again_at_every_start(
        tmp_path: Path, world, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every start read and staged the whole of each `trust.status_lists` file only to find it no newer than
    the one held: 2 s for 500,000 entries here, so a province's 10 million took minutes on a Pi, past the
    gate's TimeoutStartSec=60, and the service never started. A held version is now seen from the list's
    head, before its entries."""
    import logging

    from keys.statusstore import StatusStore
    from scanner.config import settings_from_dict

    settings = settings_from_dict({"device": {"data_dir": str(tmp_path)},
                                   "trust": {"anchors": [str(world.anchor_path)],
                                             "trust_list": str(world.trust_list_path),
                                             "status_lists": [str(p) for p in world.status_list_paths]}})
    first = open_stores(settings)
    held = {i.issuer: i.version for i in first.status.issuers()}
    first.close()
    assert len(held) == len(world.status_list_paths)
    staged = []
    original = StatusStore.apply_file

    def counting(self: StatusStore, *args: object, **kwargs: object) -> object:
        kwargs["progress"] = lambda: staged.append(1)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(StatusStore, "apply_file", counting)
    with caplog.at_level(logging.INFO, logger="scanner.storage.stores"):
        again = open_stores(settings)
    assert staged == []  # no batch of entries was read
    assert {i.issuer: i.version for i in again.status.issuers()} == held
    assert caplog.text.count("not newer than the held version") == len(held)
    again.close()


def test_applying_a_bootstrap_status_list_at_start_extends_systemd_s_start_timeout(
        tmp_path: Path, world, notify_socket, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first start applies `trust.status_lists` before the service is ready: a province's list takes
    minutes on a Pi, past the gate's TimeoutStartSec=60: systemd would kill every start mid-apply (the apply
    rolled back) for good. The apply asks systemd for more time as it goes."""
    from scanner.config import settings_from_dict
    from tests.helpers.notifysock import drain

    sock, env = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", env["NOTIFY_SOCKET"])
    settings = settings_from_dict({"device": {"data_dir": str(tmp_path)},
                                   "trust": {"anchors": [str(world.anchor_path)],
                                             "trust_list": str(world.trust_list_path),
                                             "status_lists": [str(p) for p in world.status_list_paths]}})
    stores = open_stores(settings)
    assert stores.status is not None and len(stores.status.issuers()) == len(world.status_list_paths)
    stores.close()
    sent = [m.decode() for m in drain(sock)]
    assert sent and all(m == "EXTEND_TIMEOUT_USEC=30000000" for m in sent), sent
    open_stores(settings).close()  # held already: nothing read, nothing to extend
    assert drain(sock) == []
