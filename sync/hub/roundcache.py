"""What a sync round reads, shared by the rounds one hub process answers within a short window.

A round compares the device's list versions with the heads of the published lists and sends the
admissions recorded at its site. Both are the same for every device (of one site) at a given moment,
and reading them for each round was most of a round's database work. So each hub process reads them at
most once per `window` seconds (1 s by default): the heads in one query, the admissions once per site,
in one transaction. The database stays the only source; this is a copy at most `window` seconds old,
and nothing another process needs lives only here:

* a list published through another process (or the CLI) reaches every process's rounds within the
  window; one published through this process's own store (the operator page) at once;
* an admission at one gate reaches the rounds of the site's other gates within the window.

A site's admissions are read with the hub's time of receipt, and the copy with the hub's time it was read
(`SiteAdmissions.read_ms`): a device that says what it has of this site (`admissions_since`, and the site
it was for) is sent only those received since then, less `OVERLAP_MS` (a transaction that took its time,
another process's clock); one placed at another site since is sent the whole window again. The copy is in
visit-time order (the window and its cap are by visit time) and a late upload's receipt time is out of that
order, so the first round to ask picks the rows received in the copy's last `RECENT_MS`, in order of
receipt; the rounds of devices polling every 30 s find their cut in those by bisection instead of each
scanning the whole window.

Against a device's poll interval (30 s) a second's delay changes nothing a device or a guard sees.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from operator import itemgetter

from sync.hub.db import Row
from sync.hub.store import HEADS, HubStore, heads_of

Heads = dict[tuple[str, str], tuple[int, str, int]]
# Admissions received this long before a device's `admissions_since` are sent again (it keeps each once):
# a row's receipt time is taken when its upload began, and another hub process's clock may differ a little.
OVERLAP_MS = 10_000
# The rows received this long before a copy was read are kept in order of receipt (`SiteAdmissions.since`):
# a round every 30 s asks for less than a minute back; a device back after longer gets a scan of the copy.
RECENT_MS = 300_000


@dataclass(frozen=True)
class SiteAdmissions:
    """The admissions of the window at `site`, newest first: (code_id, ts_ms, device_id, received_ms) rows,
    and the hub's time (ms) when they were read."""

    site: str | None
    rows: list[Row]
    read_ms: int
    # The rows received in the last RECENT_MS (in the copy's order), and (receipt time, index among them) in
    # order of receipt; made by the first round that asks for a cut (two at once may both make it, the same).
    _recent: tuple[list[Row], list[tuple[float, int]]] | None = field(default=None, init=False, repr=False,
                                                                      compare=False)

    def since(self, since_ms: int | None, site: str | None) -> list[Row]:
        """The rows received since `since_ms` (less the overlap) if that was this site's; else all of them.
        Either way in the copy's order, newest visit first. A row without a receipt time is always sent."""
        if since_ms is None or site != self.site:
            return self.rows
        after = since_ms - OVERLAP_MS
        if after < self.read_ms - RECENT_MS:
            return received_since(self.rows, after)
        recent = self._recent
        if recent is None:
            rows = received_since(self.rows, self.read_ms - RECENT_MS)
            recent = rows, sorted((math.inf if r[3] is None else r[3], k) for k, r in enumerate(rows))
            object.__setattr__(self, "_recent", recent)
        rows, by_receipt = recent
        first = bisect_left(by_receipt, after, key=itemgetter(0))
        return [rows[k] for k in sorted(k for _, k in by_receipt[first:])]


def received_since(rows: list[Row], after: int) -> list[Row]:
    return [r for r in rows if r[3] is None or r[3] >= after]


NO_ADMISSIONS = SiteAdmissions(None, [], 0)


class RoundCache:
    def __init__(self, store: HubStore, *, window: float = 1.0, admissions_window_s: float = 86_400,
                 max_admissions: int = 10_000, max_sites: int = 4096):
        self.store = store
        self.window = window
        self.admissions_window_ms = int(admissions_window_s * 1000)
        self.max_sites = max_sites
        self._admissions = ("SELECT code_id, ts_ms, device_id, received_ms FROM site_admissions "
                            f"WHERE site = ? AND ts_ms >= ? ORDER BY ts_ms DESC LIMIT {int(max_admissions)}")
        # (monotonic time read, the store's publication count then, heads)
        self._heads: tuple[float, int, Heads] | None = None
        self._sites: dict[str, tuple[float, SiteAdmissions]] = {}
        self._lock = threading.Lock()

    def fresh(self, site: str | None) -> tuple[Heads, SiteAdmissions] | None:
        """The heads and the site's admissions if read within the window; None: `load` them."""
        now = time.monotonic()
        heads = self._heads
        if self.window <= 0 or heads is None or now - heads[0] > self.window or heads[1] != self.store.publications:
            return None
        if not site:
            return heads[2], NO_ADMISSIONS
        admissions = self._sites.get(site)
        if admissions is None or now - admissions[0] > self.window:
            return None
        return heads[2], admissions[1]

    def load(self, site: str | None) -> tuple[Heads, SiteAdmissions]:
        """Read the heads (and the site's admissions) from the database, keeping them for the window."""
        now, publications, read_ms = time.monotonic(), self.store.publications, int(time.time() * 1000)
        reads: list[tuple[str, tuple[object, ...]]] = [(HEADS, ())]
        if site:
            reads.append((self._admissions, (site, read_ms - self.admissions_window_ms)))
        with self.store.db.read() as tx:
            got = tx.execute_all(reads)
        heads = heads_of(got[0])
        admissions = SiteAdmissions(site, got[1], read_ms) if site else NO_ADMISSIONS
        with self._lock:
            self._heads = (now, publications, heads)
            if site:
                if len(self._sites) >= self.max_sites:
                    self._sites = {s: a for s, a in self._sites.items() if now - a[0] <= self.window}
                    if len(self._sites) >= self.max_sites:
                        self._sites.clear()
                self._sites[site] = (now, admissions)
        return heads, admissions
