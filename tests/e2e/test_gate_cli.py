"""`checkpoint gate` as a subprocess: a stdin scanner, gpiozero's mock pins (GPIOZERO_PIN_FACTORY=mock), a
trusted clock from systemd's NTP state (a `timedatectl` on PATH), twelve passengers and a repeat."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from scanner.storage.visitlog import VisitLog
from tests.helpers.payloads import passenger_codes

EXE = shutil.which("checkpoint", path=str(Path(sys.executable).parent)) or "checkpoint"


def gate_config(tmp_path: Path, world, profile: str = "transport", **gate: str) -> Path:
    status = ", ".join(f'"{p}"' for p in world.status_list_paths)
    extra = "".join(f'{k} = "{v}"\n' for k, v in gate.items())
    cfg = tmp_path / "gate.toml"
    cfg.write_text(f"""
[device]
id = "gate-A"
data_dir = "{tmp_path / 'data'}"
[venue]
profile = "{profile}"
[trust]
anchors = ["{world.anchor_path}"]
trust_list = "{world.trust_list_path}"
status_lists = [{status}]
[camera]
source = "none"
# Every scan is decided (no debounce), so the same code again meets anti-passback.
debounce = 0.0
[sound]
enabled = false
[gate]
pulse_ms = 40
{extra}""")
    return cfg


def ntp_env(tmp_path: Path, synchronized: str = "yes") -> dict[str, str]:
    """A `timedatectl` that reports systemd's NTP state, first on PATH; gpiozero's mock pins."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / "timedatectl"
    tool.write_text(f"#!/bin/sh\necho {synchronized}\n")
    tool.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "GPIOZERO_PIN_FACTORY": "mock"}


def test_twelve_passengers_twelve_pulses_twelve_visits_and_a_repeat(tmp_path, world) -> None:
    cfg = gate_config(tmp_path, world, output="gpio:17")
    codes = passenger_codes(world, 12)
    lines = "".join(c + "\n" for c in [*codes, codes[0]])
    r = subprocess.run([EXE, "gate", "--config", str(cfg), "--source", "stdin", "--json"], input=lines,
                       capture_output=True, text=True, timeout=120, env=ntp_env(tmp_path))
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    decisions = [e for e in events if e["event"] == "decision"]
    pulses = [e for e in events if e["event"] == "gate"]
    assert len(decisions) == 13
    for e in decisions[:12]:
        assert {k: e[k] for k in ("admit", "verdict", "tone", "status", "repeat", "decided_by")} == {
            "admit": True, "verdict": "ok", "tone": "pass", "status": "green", "repeat": False, "decided_by": "device"}
        assert e["gate"] == "open" and len(e["code_id"]) == 32
    assert len({e["code_id"] for e in decisions[:12]}) == 12
    last = decisions[12]
    assert last["admit"] is False and last["repeat"] is True and last["code_id"] == decisions[0]["code_id"]
    assert last["headline"].startswith("Already admitted at") and last["gate"] is None
    assert pulses == [{"event": "gate", "action": "open", "pulse_ms": 40, "ok": True, "reason": "admit",
                       "problem": None}] * 12
    assert {"event": "status", "clock_trusted": True, "gate_problem": None, "audio_problem": None,
            "storage_problem": None} in events
    with VisitLog(tmp_path / "data" / "visits.sqlite") as log:
        rows = list(log.rows())
        assert log.verify().ok
    assert len(rows) == 13 and [r["gate"] for r in rows] == ["open"] * 12 + [None]
    assert sum(r["admit"] for r in rows) == 12 and rows[12]["outcome"] == "already_admitted"
    health = json.loads((tmp_path / "data" / "appliance-health.json").read_text())
    assert health["gate_output"] == {"state": "ok"} and health["clock_trusted"] is True


def test_a_busy_gate_output_is_reported_and_decisions_go_on(tmp_path, world) -> None:
    # No GPIO here and no mock factory: the output cannot open; every decision and visit still happens.
    cfg = gate_config(tmp_path, world, output="gpio:17")
    env = {**ntp_env(tmp_path), "GPIOZERO_PIN_FACTORY": "no-such-factory"}
    codes = passenger_codes(world, 2)
    r = subprocess.run([EXE, "gate", "--config", str(cfg), "--source", "stdin"], input="\n".join(codes) + "\n",
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert sum(line.startswith("ADMIT") for line in out) == 2
    assert sum("FAILED" in line for line in out if line.startswith("gate")) == 2
    assert any("gate_problem=gpio:17" in line for line in out)
    with VisitLog(tmp_path / "data" / "visits.sqlite") as log:
        assert [r["gate"] for r in log.rows()] == ["failed", "failed"]


def test_the_visit_logs_storage_alarm_is_reported(tmp_path, world) -> None:
    # A screenless gate has no status bar: its status event says what the kiosk's would.
    cfg = gate_config(tmp_path, world)
    cfg.write_text(cfg.read_text() + "[log]\nstorage_cap_mb = 1\nstorage_alarm_percent = 1\n")
    r = subprocess.run([EXE, "gate", "--config", str(cfg), "--source", "stdin", "--json"],
                       input=passenger_codes(world, 1)[0] + "\n", capture_output=True, text=True, timeout=120,
                       env=ntp_env(tmp_path))
    assert r.returncode == 0, r.stderr
    statuses = [e for e in map(json.loads, r.stdout.splitlines()) if e["event"] == "status"]
    assert statuses and "of its storage cap" in (statuses[-1]["storage_problem"] or ""), statuses

def test_a_damaged_visit_log_is_salvaged_and_reported_by_the_gate(tmp_path, world) -> None:
    from tests.helpers.damage import overwrite_pages, root_page, written_log

    cfg = gate_config(tmp_path, world)
    (tmp_path / "data").mkdir()
    old = tmp_path / "data" / "visits.sqlite"
    old_id, _ = written_log(old, 300, device_id="gate-A")
    overwrite_pages(old, (7, root_page(old, "meta")))
    r = subprocess.run([EXE, "gate", "--config", str(cfg), "--source", "stdin", "--json"],
                       input=passenger_codes(world, 1)[0] + "\n", capture_output=True, text=True, timeout=120,
                       env=ntp_env(tmp_path))
    assert r.returncode == 0, r.stderr
    statuses = [e for e in map(json.loads, r.stdout.splitlines()) if e["event"] == "status"]
    assert statuses and "visit log damaged (visits.sqlite.bad-1)" in (statuses[-1]["storage_problem"] or "")
    with VisitLog(old) as log:  # the new log: today's visit in its chain, the salvaged ones beside it
        assert log.log_id != old_id and log.count() == 1 and log.verify().ok
        assert log.recovered.pending_count() > 250


def test_bad_config_names_the_key(tmp_path, world) -> None:
    cfg = gate_config(tmp_path, world, output="relay:1")
    r = subprocess.run([EXE, "gate", "--config", str(cfg), "--source", "stdin"], input="", capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "gate.output" in r.stderr and str(cfg) in r.stderr and "Traceback" not in r.stderr


def test_sigkill_after_four_pharmacy_decisions_loses_none(tmp_path, world) -> None:
    import signal

    cfg = gate_config(tmp_path, world, profile="pharmacy")
    proc = subprocess.Popen([EXE, "gate", "--config", str(cfg), "--source", "stdin", "--json"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ntp_env(tmp_path))
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("".join(c + "\n" for c in passenger_codes(world, 4)))
        proc.stdin.flush()  # stdin stays open: the gate keeps running, the clerk has registered nothing
        decided = []
        while len(decided) < 4:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            event = json.loads(line)
            if event["event"] == "decision":
                decided.append(event)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [e["admit"] for e in decided] == [True] * 4
    with VisitLog(tmp_path / "data" / "visits.sqlite") as log:
        rows = list(log.rows())
        assert log.verify().ok
    assert [r["visit_id"] for r in rows] == [e["visit_id"] for e in decided]


def test_the_guard_admits_a_manual_check_with_the_keypad(tmp_path, world) -> None:
    # No hub and no NTP: the clock is untrusted, every code is a manual check for the guard.
    cfg = gate_config(tmp_path, world, output="gpio:17")
    proc = subprocess.Popen([EXE, "gate", "--config", str(cfg), "--source", "stdin", "--json"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ntp_env(tmp_path, synchronized="no"))
    assert proc.stdin is not None and proc.stdout is not None

    def next_event(kind: str) -> dict:
        while True:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            event = json.loads(line)
            if event["event"] == kind:
                return event

    try:
        code = passenger_codes(world, 1)[0]
        proc.stdin.write(code + "\n")
        proc.stdin.flush()
        check = next_event("decision")
        assert check["tone"] == "check" and not check["admit"] and check["outcome"] == "clock_untrusted"
        proc.stdin.write("+\n")  # the guard checked the person and presses Admit
        proc.stdin.flush()
        assert next_event("gate") == {"event": "gate", "action": "open", "pulse_ms": 40, "ok": True,
                                      "reason": "guard", "problem": None}
        admitted = next_event("decision")
        assert admitted["decided_by"] == "guard" and admitted["admit"] and admitted["gate"] == "open"
        proc.stdin.write("-\n")  # nothing left to decide: said, not ignored
        proc.stdin.flush()
        assert "nothing waits" in next_event("guard")["message"]
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    with VisitLog(tmp_path / "data" / "visits.sqlite") as log:
        rows = list(log.rows())
    assert [(r["decided_by"], r["admit"], r["gate"]) for r in rows] == [("device", False, None),
                                                                       ("guard", True, "open")]
    assert rows[1]["ref_visit"] == rows[0]["visit_id"] == check["visit_id"]


def test_gate_notifies_systemd_pings_the_watchdog_and_stops_on_sigterm(tmp_path, world) -> None:
    import signal
    import socket

    cfg = gate_config(tmp_path, world, output="gpio:17")
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(60)
    env = {**ntp_env(tmp_path), "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "2000000"}
    env.pop("WATCHDOG_PID", None)
    # A scanner-only gate (stdin stays open, no code comes): an idle scanner still keeps the watchdog fed.
    proc = subprocess.Popen([EXE, "gate", "--config", str(cfg), "--source", "stdin"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    messages: list[str] = []
    try:
        while messages.count("WATCHDOG=1") < 2:
            messages.extend(sock.recv(4096).decode().splitlines())
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in messages:
            messages.extend(sock.recv(4096).decode().splitlines())
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    assert proc.returncode == 0, err
    assert messages.index("READY=1") < messages.index("WATCHDOG=1") < messages.index("STOPPING=1")
    assert any(m.startswith("STATUS=scanning") for m in messages), messages
    assert "Traceback" not in err


def test_a_gate_stopping_while_standard_input_is_still_open_exits_cleanly(tmp_path, world) -> None:
    """--duration (or SIGTERM) while the stdin reader waits for a next line: exit 0, not an interpreter abort
    ("could not acquire lock for <stdin> at interpreter shutdown", exit 134)."""
    cfg = gate_config(tmp_path, world, output="gpio:17")
    proc = subprocess.Popen([EXE, "gate", "--config", str(cfg), "--source", "stdin", "--duration", "3", "--json"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ntp_env(tmp_path))
    assert proc.stdin is not None
    proc.stdin.write(passenger_codes(world, 1)[0] + "\n")
    proc.stdin.flush()  # and left open: a scanner that sends nothing more
    try:
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.stdin.close()
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 0 and "Fatal Python error" not in err, err
    assert '"event": "decision"' in out


def test_a_damaged_sync_status_file_does_not_stop_the_gate(tmp_path, world) -> None:
    cfg = gate_config(tmp_path, world)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sync-status.json").write_text('{"hub_time_offset": "0.5", "hub_time_measured_at": "x"}')
    r = subprocess.run([EXE, "gate", "--config", str(cfg), "--source", "stdin", "--json"],
                       input=passenger_codes(world, 1)[0] + "\n", capture_output=True, text=True, timeout=120,
                       env=ntp_env(tmp_path))
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr
    assert [json.loads(line)["admit"] for line in r.stdout.splitlines() if '"decision"' in line] == [True]
