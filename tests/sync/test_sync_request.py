"""The kiosk's "sync now": a request file in the data directory that the waiting agent takes at once."""

from __future__ import annotations

import threading
import time

from scanner.storage.syncstate import SYNC_REQUEST_FILE, request_sync, take_sync_request


def test_request_is_taken_once(tmp_path) -> None:
    assert not take_sync_request(tmp_path)
    request_sync(tmp_path, time.time())
    assert (tmp_path / SYNC_REQUEST_FILE).is_file()
    assert take_sync_request(tmp_path)
    assert not take_sync_request(tmp_path)


def test_waiting_agent_starts_a_round_on_request(tmp_path) -> None:
    from scanner.storage.visitlog import VisitLog
    from sync.agent import AgentConfig, RoundReport, SyncAgent

    # Without a request, the second round would be an hour away.
    config = AgentConfig(url="https://127.0.0.1:9", client_cert="c.pem", client_key="k.pem", ca_cert="ca.pem",
                         data_dir=tmp_path, device_id="gate-1", interval=3600.0)
    agent = SyncAgent(config, VisitLog(tmp_path / "visits.sqlite"), None, None)
    rounds = []
    done = threading.Event()

    def counting_round() -> RoundReport:
        # The loop under test is the agent's waiting; the round itself is covered by test_sync.py.
        rounds.append(time.monotonic())
        if len(rounds) == 2:
            done.set()
        return RoundReport()

    agent.run_once = counting_round  # type: ignore[method-assign]
    stop = threading.Event()
    t = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 30
        while not rounds and time.monotonic() < deadline:
            time.sleep(0.05)
        request_sync(tmp_path, time.time())
        assert done.wait(30), "the agent did not start a round after the request"
        assert not (tmp_path / SYNC_REQUEST_FILE).exists()
    finally:
        stop.set()
        t.join(30)
