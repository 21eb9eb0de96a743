"""The hub's visit queries at scale, for `bench/hub_ingest.py`: rows made in SQL up to 1M or 10M, then
one device's time range (page of 1,000 + count, goal ≤50 ms at 10M rows), its last page by keyset, and
the count of the whole table (`hub visits` does the same queries through `HubStore`)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from sync.hub.store import HubStore


def fill(store: HubStore, total: int, other: int, per_device: int = 1000) -> None:
    """Bulk rows in SQL up to `total` visits (devices big-0 …, `per_device` rows each, over 10 days);
    `other` rows in the table are not theirs."""
    have = store.count() - other
    if total - other <= have:
        return
    now_ms = int(time.time() * 1000) - 86_400_000
    span = 10 * 86_400_000
    first = have
    total -= other
    if store.dialect == "postgresql":
        import datetime as dt

        days = {(dt.datetime.fromtimestamp((now_ms - span) / 1000, dt.UTC) + dt.timedelta(days=i)).date()
                for i in range(12)}
        store.ensure_partitions(days)
        src = "generate_series(?::bigint, ?::bigint) AS g(i)"
    else:
        src = ("(WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM c WHERE i < ?) SELECT i FROM c)")
    # Rows are spread over time like real traffic: seq order is time order within each device.
    sql = (
        "INSERT INTO visits (device_id, log_id, seq, visit_id, ts_ms, checkpoint_id, profile, clock_trusted, "
        "format, issuer, code_id, subject, code_type, verdict, status, admit, tone, guardian, trust_list_version, "
        "status_list_version, latency_ms, extra, prev_chain, chain, chain_ok, chain_problem, received_ms) "
        # No "%" operator: it is psycopg's placeholder mark (the store's SQL rule); i - (i / n) * n is i mod n.
        f"SELECT 'big-' || (i / {per_device}), 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0', i - (i / {per_device}) * "
        f"{per_device} + 1, 'v-' || i, ? + (i - (i / {per_device}) * {per_device}) * {span // per_device} + "
        f"(i / {per_device}) - ((i / {per_device}) / 1000) * 1000, 'gate-1', 'transport', 1, 'hcc1', 'CN-ZJ', "
        "'c' || i, 's' || i, "
        "'personal', 'ok', 'green', 1, 'pass', 0, 7, 101, 12, '{}', "
        "'0000000000000000000000000000000000000000000000000000000000000000', "
        "'1111111111111111111111111111111111111111111111111111111111111111', 1, NULL, ? FROM " + src)
    step = 1_000_000
    for lo in range(first, total, step):
        hi = min(lo + step, total) - 1
        with store.db.transaction() as tx:
            tx.execute(sql, (now_ms - span, now_ms, lo, hi))
    with store.db.transaction() as tx:
        tx.execute("ANALYZE visits" if store.dialect == "postgresql" else "ANALYZE")


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """The median wall time of `repeat` calls of `fn`, in ms."""
    best = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t)
    return statistics.median(best) * 1000


def queries(store: HubStore) -> str:
    device = "big-5"
    page = store.page(device, limit=1000)
    since, until = page.rows[100]["ts_ms"], page.rows[900]["ts_ms"]
    ranged = timed(lambda: (store.page(device, since, until, limit=1000), store.count(device, since, until)))
    counted = timed(lambda: store.count(device, since, until))
    first100 = timed(lambda: store.page(device, since, until, limit=100))
    after = (device, page.rows[0]["log_id"], 900)
    last = timed(lambda: store.page(device, after=after, limit=1000))
    total = timed(lambda: store.count(), repeat=1)
    goal = (f" (goal ≤50 ms at 10M rows: {'met' if ranged <= 50 else 'NOT met'})"
            if store.count() >= 10_000_000 else "")
    return (f"one device's time range: 800 rows + count {ranged:.1f} ms{goal} (count alone {counted:.1f} ms, first 100 "
            f"rows {first100:.1f} ms); its last page by keyset {last:.1f} ms; "
            f"count of all rows {total:.0f} ms")
