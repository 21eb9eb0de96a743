"""Storing one uploaded batch: idempotent per (device, log id, seq), conflicts, refusals, chain links, gaps.

Each row of a batch ends in exactly one of these, and the answer says which:

* stored — new, passes the checks below; `chain_ok` is false (with `chain_problem`) when its hash does
  not match its content, it does not link to the stored row before it (a fork), or the stored row after
  it does not link to it; the evidence is kept either way;
* duplicate — the hub already holds this (device, log id, seq) with the same chain hash: acknowledged;
* conflict — the hub holds this (device, log id, seq) with a different chain hash: the held row stays,
  the new one is kept in `visit_conflicts`, both are acknowledged and reported;
* refused — a text field holding a NUL character (PostgreSQL cannot store one, and a device logs what a
  crafted code claims, its issuer for one), a time outside the window around the hub's clock, a venue the
  device is not registered for, a verdict that does not exist, or an `extra` field the device rules do not
  allow: the row is kept in `visit_refusals` (its `extra` reduced to key names, so a smuggled phone number
  is not stored; its text as JSON escapes) and reported; it still counts as held for the chain and for gaps.

The transaction takes a lock on the device's log (`tx.lock_and_read`), so hub processes sharing one database store
each row once, and the read-then-write above is exact. The log's head (last seq, its chain, the signed
checkpoint, the contiguous prefix) lives in `logs`; gaps are the missing ranges above that prefix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter, methodcaller
from typing import Any

from keys.jsontypes import Json, JsonObject
from scanner.errors import InputError
from scanner.storage.chain import DECIDED_BY, GENESIS, VISIT_FIELDS, chain_hash, validate_extra
from sync.hub.db import Row, Tx
from sync.hub.store import DAY_MS, STORED_FIELDS, HubStore, day_of, log_gaps
from sync.hub.traffic import tally


@dataclass(frozen=True)
class IngestRules:
    """What the hub accepts from a device, beyond the upload's shape."""

    max_ahead_ms: int = 3_600_000  # a visit time at most this far past the hub's clock
    max_age_days: int = 60  # … and at most this many days before it (visits older are past retention)
    checkpoints: tuple[str, ...] | None = None  # venues the device is registered for (None: any)
    site: str | None = None  # the device's site, for the site-admissions feed
    # The caller saw that no text of the batch can hold a NUL (its JSON has no \u0000 escape): the
    # batch-wide look for one is skipped.
    nul_free: bool = False


@dataclass
class UploadResult:
    stored: int
    duplicates: int
    acked: list[str]
    chain_breaks: list[JsonObject] = field(default_factory=list)
    conflicts: list[JsonObject] = field(default_factory=list)
    refused: list[JsonObject] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    log_id: str = ""
    last_seq: int | None = None
    last_chain: str | None = None


_VERDICTS: frozenset[str] = frozenset()


def _verdicts() -> frozenset[str]:
    global _VERDICTS
    if not _VERDICTS:
        from scanner.verify import Verdict

        _VERDICTS = frozenset(v.value for v in Verdict)
    return _VERDICTS


_DECIDED_BY = frozenset((None, *DECIDED_BY))
_GATES = frozenset((None, "open", "failed"))
# Where the stored row's values come from: the uploaded row's fields in `STORED_FIELDS` order, between
# the log id and the three the hub adds; `extra` is converted in place.
_FROM_ROW = STORED_FIELDS[1:-3]
assert ("log_id", *_FROM_ROW, "chain_ok", "chain_problem", "received_ms") == STORED_FIELDS
_EXTRA_AT = 1 + _FROM_ROW.index("extra")
_SEQ, _TS, _VERDICT, _CHECKPOINT, _EXTRA = (itemgetter(n) for n in ("seq", "ts_ms", "verdict", "checkpoint_id",
                                                                     "extra"))
_GET_DECIDED_BY, _GET_GATE = methodcaller("get", "decided_by"), methodcaller("get", "gate")
_TEXT_FIELDS = tuple(n for n, t in VISIT_FIELDS.items() if (t[0] if isinstance(t, tuple) else t) is str)
_GET_TEXTS = tuple(methodcaller("get", n) for n in _TEXT_FIELDS)


def _nul_in(rows: Sequence[JsonObject]) -> bool:
    """Whether any text field of any row holds a NUL character (one C-level join per field)."""
    return any("\x00" in "".join(filter(None, map(get, rows))) for get in _GET_TEXTS)


def storable(text: str) -> str:
    """Text for a column: a NUL written as its JSON escape (only refused and conflicting rows get here)."""
    return text.replace("\x00", "\\u0000")


def refusal(row: JsonObject, rules: IngestRules, now_ms: int, verdicts: frozenset[str]) -> str | None:
    """Why the hub refuses this row, or None. `refusals` holds each rule again in its batch form: a rule
    added here goes there too (tests/sync/hub/test_ingest_rules.py holds the two to the same answers)."""
    for name in _TEXT_FIELDS:
        text = row.get(name)
        if isinstance(text, str) and "\x00" in text:
            return f"{name} holds a NUL character, which the hub cannot store"
    if row["ts_ms"] > now_ms + rules.max_ahead_ms:
        return f"visit time is {(row['ts_ms'] - now_ms) / 1000:.0f} s ahead of the hub's clock"
    if row["ts_ms"] < now_ms - rules.max_age_days * DAY_MS:
        return f"visit time is more than {rules.max_age_days} days before the hub's clock"
    if row["verdict"] not in verdicts:
        return f"verdict {str(row['verdict'])[:40]!r} does not exist"
    if row.get("decided_by") not in _DECIDED_BY:
        return f"decided_by {str(row['decided_by'])[:40]!r} does not exist"
    if row.get("gate") not in _GATES:
        return f"gate {str(row['gate'])[:40]!r} does not exist"
    if rules.checkpoints is not None and row["checkpoint_id"] not in rules.checkpoints:
        return f"venue {str(row['checkpoint_id'])[:64]!r} is not registered for this device"
    if row["extra"]:
        try:
            validate_extra(row["extra"])
        except InputError as e:
            return str(e)
    return None


def refusals(rows: Sequence[JsonObject], rules: IngestRules, now_ms: int) -> list[str | None]:
    """`refusal` of each row. A batch whose every row passes (the usual one) is seen so in a few
    C-level passes over its columns; otherwise each row is asked."""
    verdicts = _verdicts()
    ts = list(map(_TS, rows))
    if (min(ts) >= now_ms - rules.max_age_days * DAY_MS and max(ts) <= now_ms + rules.max_ahead_ms
            and verdicts.issuperset(map(_VERDICT, rows))
            and _DECIDED_BY.issuperset(map(_GET_DECIDED_BY, rows)) and _GATES.issuperset(map(_GET_GATE, rows))
            and (rules.checkpoints is None or frozenset(rules.checkpoints).issuperset(map(_CHECKPOINT, rows)))
            and not any(map(_EXTRA, rows)) and (rules.nul_free or not _nul_in(rows))):
        return [None] * len(rows)
    return [refusal(r, rules, now_ms, verdicts) for r in rows]


def store_batch(store: HubStore, device_id: str, rows: Sequence[JsonObject], *, now: float | None = None,
                log_id: str | None = None, signed: tuple[int, str] | None = None,
                rules: IngestRules | None = None, recovered: bool = False) -> UploadResult:
    """Store one device's batch in one transaction (see the module docstring).

    `signed` is a (seq, chain) the device's key has been verified to sign; the hub keeps the highest.
    `recovered`: the device salvaged these rows from its damaged copy of the log; the log keeps the time
    it was first sent so (`recovered_ms`).
    """
    rules = rules or IngestRules()
    log_id = log_id or ""  # rows from agents older than log ids belong to the device's "" log
    now_ms = int((time.time() if now is None else now) * 1000)
    ordered = sorted(rows, key=_SEQ)
    res = UploadResult(0, 0, [], log_id=log_id)
    if not ordered:
        return res
    lo, hi = ordered[0]["seq"] - 1, ordered[-1]["seq"] + 1
    # Rows within the window go to day partitions that must exist first (their own short transaction).
    lo_ms, hi_ms = now_ms - rules.max_age_days * DAY_MS, now_ms + rules.max_ahead_ms
    days = {day_of(d * DAY_MS) for d in {r["ts_ms"] // DAY_MS for r in ordered if lo_ms <= r["ts_ms"] <= hi_ms}}
    store.ensure_partitions(days)
    # The CPU work (hashes, field rules) before the transaction: the log's lock is held for the SQL only.
    checked = zip(ordered, refusals(ordered, rules, now_ms),
                  [chain_hash(r["prev_chain"], r) == r["chain"] for r in ordered], strict=True)
    with store.db.transaction() as tx:
        # The lock, then what the hub holds around the batch and the log's head: one round trip.
        *found, head = tx.lock_and_read(f"log:{device_id}:{log_id}", [
            *((f"SELECT seq, prev_chain, chain FROM {table} WHERE device_id = ? AND log_id = ? "
               "AND seq BETWEEN ? AND ?", (device_id, log_id, lo, hi)) for table in ("visits", "visit_refusals")),
            ("SELECT last_seq, last_chain, contiguous_seq, signed_seq FROM logs WHERE device_id = ? AND log_id = ?",
             (device_id, log_id))])
        held: dict[int, tuple[str, str]] = {}  # seq -> (prev_chain, chain) held by the hub
        for seq, prev, chain in (*found[0], *found[1]):
            held[int(seq)] = (str(prev), str(chain))
        values: list[list[Any]] = []
        stored_rows: list[JsonObject] = []
        refused: list[list[Any]] = []
        conflicts: list[list[Any]] = []
        admissions: list[list[Any]] = []
        for r, why, hash_ok in checked:
            seq = r["seq"]
            if seq in held:
                if held[seq][1] == r["chain"]:
                    res.duplicates += 1
                else:
                    res.conflicts.append({"seq": seq, "visit_id": r["visit_id"],
                                          "reason": "the hub holds a different row with this sequence number"})
                    conflicts.append([device_id, log_id, seq, r["chain"], storable(r["visit_id"]), held[seq][1],
                                      _json(r), now_ms])
                res.acked.append(r["visit_id"])
                continue
            held[seq] = (r["prev_chain"], r["chain"])
            res.acked.append(r["visit_id"])
            if why is not None:
                res.refused.append({"seq": seq, "visit_id": r["visit_id"], "reason": why})
                kept = {**r, "extra": sorted(r["extra"])} if why.startswith("extra") else r
                refused.append([device_id, log_id, seq, storable(r["visit_id"]), r["ts_ms"], storable(why),
                                r["prev_chain"], r["chain"], _json(kept), now_ms])
                continue
            problem = None
            if not hash_ok:
                problem = "content does not match its hash"
            elif seq - 1 in held and held[seq - 1][1] != r["prev_chain"]:
                problem = "does not link to the previous row (a fork)"
            elif seq == 1 and r["prev_chain"] != GENESIS:
                problem = "the first row of a log does not start from the genesis hash"
            elif seq + 1 in held and held[seq + 1][0] != r["chain"]:
                problem = "the next row held does not link to it (a fork)"
            if problem:
                res.chain_breaks.append({"visit_id": r["visit_id"], "seq": seq, "problem": problem})
            # Booleans go as they are: both drivers store them as 0/1 in their SMALLINT columns.
            value: list[Any] = [log_id, *map(r.get, _FROM_ROW), 0 if problem else 1, problem, now_ms]
            value[_EXTRA_AT] = _json(r["extra"]) if r["extra"] else "{}"
            values.append(value)
            stored_rows.append(r)
            if rules.site and r["admit"] and r.get("code_id"):
                admissions.append([rules.site, r["ts_ms"], r["code_id"], device_id, now_ms])
        if values:
            tx.copy_rows("visits", STORED_FIELDS, values)
            res.stored = len(values)
            tally(tx, device_id, stored_rows)
        if refused:
            tx.copy_rows("visit_refusals", ("device_id", "log_id", "seq", "visit_id", "ts_ms", "reason",
                                            "prev_chain", "chain", "row_json", "received_ms"), refused)
        if conflicts:
            tx.executemany("INSERT INTO visit_conflicts (device_id, log_id, seq, chain, visit_id, held_chain, "
                           "row_json, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", conflicts)
        if admissions:
            tx.copy_rows("site_admissions", ("site", "ts_ms", "code_id", "device_id", "received_ms"), admissions)
        _update_head(tx, res, device_id, log_id, head, held, signed, now_ms, recovered)
    return res


def _update_head(tx: Tx, res: UploadResult, device_id: str, log_id: str, head: list[Row],
                 held: dict[int, tuple[str, str]], signed: tuple[int, str] | None, now_ms: int,
                 recovered: bool = False) -> None:
    last_seq, last_chain, contiguous, signed_seq = (head[0] if head else (0, "", 0, None))
    top = max(held)
    if top > last_seq:
        last_seq, last_chain = top, held[top][1]
    gaps = log_gaps(tx, device_id, log_id, int(contiguous), int(last_seq))
    # Below the first gap every seq is held: later gap scans start there.
    new_contiguous = gaps[0][0] - 1 if gaps else int(last_seq)
    res.gaps = gaps
    res.last_seq, res.last_chain = int(last_seq), str(last_chain)
    sign_seq, sign_chain = (signed if signed and (signed_seq is None or signed[0] > signed_seq) else (None, None))
    # One statement for the head and the signed checkpoint (kept as they were when none is newer).
    if head:
        tx.execute("UPDATE logs SET last_seq = ?, last_chain = ?, contiguous_seq = ?, updated_ms = ?, "
                   "signed_seq = COALESCE(?, signed_seq), signed_chain = COALESCE(?, signed_chain), "
                   "signed_ms = COALESCE(?, signed_ms), recovered_ms = COALESCE(recovered_ms, ?) "
                   "WHERE device_id = ? AND log_id = ?",
                   (last_seq, last_chain, new_contiguous, now_ms, sign_seq, sign_chain,
                    None if sign_seq is None else now_ms, now_ms if recovered else None, device_id, log_id))
    else:
        tx.execute("INSERT INTO logs (device_id, log_id, last_seq, last_chain, contiguous_seq, first_ms, updated_ms, "
                   "signed_seq, signed_chain, signed_ms, recovered_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (device_id, log_id, last_seq, last_chain, new_contiguous, now_ms, now_ms, sign_seq, sign_chain,
                    None if sign_seq is None else now_ms, now_ms if recovered else None))


def _json(value: Json) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


