"""Repeat scans and anti-passback: one person is one admission, at this gate and across the site's gates.

Two kinds of repeat:

* the same code again within `camera.debounce` (the pipeline's `RepeatEvent`): not decided again, but never
  silent either: `repeat_note()` is the short beep and the small "already checked" note;
* an admitted code shown again within the venue profile's `anti_passback` (seconds, or "HH:MM": until that
  local time of the same day): decided, but not admitted again: `already_admitted()` turns the decision
  into a refusal that calls the guard ("已于 08:12 通行 / Already admitted at 08:12") and is logged with
  outcome `already_admitted`, so it is never counted as a second admission.

`Admissions` knows recent admissions by code id from this device's own visit log (read once at start,
then kept up to date by the session: works offline) and from the site feed the sync agent writes from the
hub (`site-admissions.json`: `{"received_at": s, "admissions": [{"code_id", "ts_ms", "device_id"}]}`),
re-read by the status tick (`refresh`, once a second) when the file changes. Offline each gate knows
only its own admissions; a bad feed is ignored with a log line, never a reason to stop deciding.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keys.jsontypes import Json
from keys.localtext import LocalText
from scanner.errors import CheckpointError
from scanner.policy import MAX_ANTI_PASSBACK_S
from scanner.storage.datadir import DataDir
from scanner.verify import VerifySettings

if TYPE_CHECKING:
    from scanner.policy import Decision
    from scanner.storage.chain import ChainedVisitRow
    from scanner.storage.visitlog import VisitLog

log = logging.getLogger(__name__)

ALREADY_ADMITTED = "already_admitted"
HORIZON_S = MAX_ANTI_PASSBACK_S  # admissions older than this never matter (no window is longer)
PRUNE_EVERY_S = 600  # a gate runs for months: forget admissions past the horizon this often
MAX_FEED_BYTES = 4 * 1024 * 1024
SUBJECT = "subject:"  # own admissions are also kept under the holder's pseudonym
REPEAT_NOTE = LocalText("已核验，请勿重复扫码", "Already checked")


@dataclass(frozen=True)
class Admission:
    at: float  # Unix seconds
    device_id: str
    visit_id: str | None  # known for this device's own admissions


@dataclass(frozen=True)
class Repeat:
    """An admitted code shown again within the anti-passback window."""

    code_id: str
    admitted_at: float
    where: str  # the device that admitted it
    here: bool
    visit_id: str | None
    text: LocalText


@dataclass(frozen=True)
class RepeatNote:
    """The same code again within the debounce window: beep `sound` and show `text` on the current screen."""

    payload_key: str
    source: str
    seconds_since: float
    text: LocalText = REPEAT_NOTE
    sound: str = "repeat"


def repeat_note(payload: str, source: str, seconds_since: float) -> RepeatNote:
    return RepeatNote(payload, source, seconds_since)


def window_end(anti_passback: int | str, admitted_at: float) -> float:
    """Until when (Unix seconds) an admission at `admitted_at` blocks the same code."""
    if isinstance(anti_passback, int):
        return admitted_at + anti_passback
    hh, mm = (int(x) for x in anti_passback.split(":"))
    t = time.localtime(admitted_at)
    cutoff = time.mktime((t.tm_year, t.tm_mon, t.tm_mday, hh, mm, 0, 0, 0, -1))
    return cutoff if cutoff > admitted_at else admitted_at


def _clock_text(at: float) -> str:
    return time.strftime("%H:%M", time.localtime(at))


def already_admitted_text(admission: Admission, here: bool) -> LocalText:
    hm = _clock_text(admission.at)
    if here:
        return LocalText(f"已于 {hm} 通行", f"Already admitted at {hm}")
    return LocalText(f"已于 {hm} 在 {admission.device_id} 通行",
                     f"Already admitted at {hm} at {admission.device_id}")


def already_admitted(decision: Decision, repeat: Repeat) -> Decision:
    """The decision for a repeat: not admitted, the guard called, the first admission's time on screen."""
    from scanner.policy import Tone

    return dataclasses.replace(
        decision, admit=False, tone=Tone.ALERT, alert_guard=True, outcome=ALREADY_ADMITTED,
        headline=repeat.text,
        guidance=LocalText("同一健康码不能重复通行，请工作人员核查", "One pass per code — staff will check"),
        reason=LocalText("重复使用", "Code used again"))


class Admissions:
    """Recent admissions by code id (hex): own ones and the site feed's. Thread-safe."""

    def __init__(self, *, device_id: str, data_dir: Path | None = None, visit_log: VisitLog | None = None,
                 now: float | None = None, clock_skew: float = VerifySettings().clock_skew):
        self.device_id = device_id
        # Gates sharing admissions disagree a little about the time (and NTP may step this one back): an
        # admission stamped ahead of this clock by up to the verifier's `verify.clock_skew` still counts.
        self.clock_skew = clock_skew
        self._feed_path = DataDir(Path(data_dir)).site_admissions if data_dir is not None else None
        self._lock = threading.Lock()
        self._own: dict[str, Admission] = {}
        self._site: dict[str, Admission] = {}
        self._feed_mtime: float | None = None
        self._pruned_at = time.time() if now is None else now
        self.feed_problem = ""
        if visit_log is not None:
            self._seed(visit_log, time.time() if now is None else now)
        self.refresh()

    def _seed(self, visit_log: VisitLog, now: float) -> None:
        try:
            for row in visit_log.rows(since_ms=int((now - HORIZON_S) * 1000)):
                self.seed_row(row, now)
        except CheckpointError as e:
            log.warning("cannot read recent admissions from the visit log: %s", e)

    def seed_row(self, row: ChainedVisitRow, now: float) -> None:
        """Remember an admission from one of the visit log's rows read at start."""
        if row["admit"] and row["code_id"] and row["ts_ms"] >= (now - HORIZON_S) * 1000:
            a = Admission(row["ts_ms"] / 1000, row["device_id"], row["visit_id"])
            with self._lock:
                self._own[row["code_id"]] = a
                if row["subject"]:
                    self._own[SUBJECT + row["subject"]] = a

    def add(self, code_id: str, at: float, visit_id: str | None, subject: str | None = None) -> None:
        with self._lock:
            self._own[code_id] = Admission(at, self.device_id, visit_id)
            if subject:
                self._own[SUBJECT + subject] = Admission(at, self.device_id, visit_id)

    def check(self, code_id: str | None, anti_passback: int | str, now: float,
              subject: str | None = None) -> Repeat | None:
        """The repeat this code would be, or None. Only admissions whose window has not ended count.

        This device's own admissions are also found by the holder's subject pseudonym, so a personal code
        refreshed on the phone (a new code id) is still the same person; the site feed has code ids only.
        """
        if not code_id or anti_passback in (0, ""):
            return None
        with self._lock:
            own = [self._own.get(code_id), self._own.get(SUBJECT + subject) if subject else None]
            candidates = [(a, True) for a in own if a is not None]
            site = self._site.get(code_id)
            if site is not None and site.device_id != self.device_id:
                candidates.append((site, False))
        live = [(a, here) for a, here in candidates
                if a.at - self.clock_skew <= now and now < (end := window_end(anti_passback, a.at)) and end > a.at]
        if not live:
            return None
        a, here = max(live, key=lambda x: x[0].at)
        return Repeat(code_id, a.at, a.device_id, here, a.visit_id, already_admitted_text(a, here))

    def prune(self, now: float) -> int:
        """Forget own admissions older than the horizon; returns how many were dropped."""
        cutoff = now - HORIZON_S
        with self._lock:
            old = [key for key, a in self._own.items() if a.at < cutoff]
            for key in old:
                del self._own[key]
            self._pruned_at = now
        return len(old)

    def __len__(self) -> int:
        with self._lock:
            return len(self._own)

    def refresh(self, now: float | None = None) -> None:
        """Re-read the site feed when the sync agent has replaced it, and now and then forget admissions past
        the horizon. Called from the status tick, never on the way from a decision to the turnstile (a file
        system call there lets other threads in first)."""
        now = time.time() if now is None else now
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self.prune(now)
        path = self._feed_path
        if path is None:
            return
        try:
            st = path.stat()
        except OSError:
            return
        if st.st_mtime == self._feed_mtime:
            return
        self._feed_mtime = st.st_mtime
        try:
            if st.st_size > MAX_FEED_BYTES:
                raise ValueError(f"larger than {MAX_FEED_BYTES} bytes")
            site = _parse_feed(json.loads(path.read_bytes()))
        except (OSError, ValueError, RecursionError) as e:
            self.feed_problem = f"{path.name}: {e}"
            log.error("site admissions feed ignored: %s", self.feed_problem)
            return
        self.feed_problem = ""
        with self._lock:
            self._site = site


def _parse_feed(doc: Json) -> dict[str, Admission]:
    if not isinstance(doc, dict) or not isinstance(doc.get("admissions"), list):
        raise ValueError("expected {\"admissions\": [...]}")
    out: dict[str, Admission] = {}
    for i, item in enumerate(doc["admissions"]):
        if not isinstance(item, dict):
            raise ValueError(f"admissions[{i}]: expected an object")
        code_id, ts_ms, device = item.get("code_id"), item.get("ts_ms"), item.get("device_id")
        if not isinstance(code_id, str) or type(ts_ms) is not int or not isinstance(device, str):
            raise ValueError(f"admissions[{i}]: expected code_id (text), ts_ms (integer), device_id (text)")
        a = Admission(ts_ms / 1000, device, None)
        if code_id not in out or out[code_id].at < a.at:
            out[code_id] = a
    return out
