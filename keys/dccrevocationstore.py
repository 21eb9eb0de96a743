"""The EU DCC revocation list in the status store: one list replaced whole, looked up through a Bloom filter.

`DccRevocations` is a part of `keys.statusstore.StatusStore` (its tables are in the same database and
its migrations): it uses the store's connection and lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from functools import cache
from itertools import chain
from typing import TYPE_CHECKING

from keys import durable
from keys.errors import StatusListError
from keys.statusrecords import DCC_REVOCATION_ISSUER, ApplyResult, IssuerInfo

if TYPE_CHECKING:
    from keys.dccrevocation import DccRevocationList


class BitFilter:
    """A Bloom filter of DCC revocation hashes: two bits per hash in 32 to 64 bits of memory per hash.

    A hash whose two bits are not both set is certainly not in the list, which is the answer for nearly
    every certificate (of 100,000 listed hashes, one looked-up hash in about 450 finds both set by chance,
    and SQLite answers it). The hashes are SHA-256 output, so their own bytes serve as the bit positions.
    """

    def __init__(self, hashes: Iterable[bytes], count: int):
        self.mask = (1 << max(16, min(32, (32 * count).bit_length()))) - 1
        bits = bytearray((self.mask + 1) // 8)
        mask = self.mask
        for h in hashes:
            x = int.from_bytes(h[:8], "big")
            for pos in (x & mask, x >> 32 & mask):
                bits[pos >> 3] |= 1 << (pos & 7)
        self.bits = bytes(bits)  # looked up in DccRevocations.dcc_revoked


@cache
def _dcc_revoked_sql(n: int) -> str:
    # One primary-key lookup per (hash, type) pair in one statement; the first hit answers.
    return " UNION ALL ".join(["SELECT kind FROM dcc_revoked WHERE kind = ? AND hash = ?"] * n)


class DccRevocations:
    """The DCC revocation list's part of the status store."""

    _conn: sqlite3.Connection
    _lock: threading.Lock
    # The filter, the held list it was read from (version, applied_at) and the connection's data_version
    # then (which changes when another connection commits).
    _dcc_filter: BitFilter | None = None
    _dcc_filter_list: object = None
    _dcc_filter_data_version = -1

    def apply_dcc_revocation(self, rl: DccRevocationList, now: float | None = None) -> ApplyResult:
        """Replace the held DCC revocation list with a newer one."""
        applied_at = time.time() if now is None else now
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute("SELECT version FROM dcc_revocation_list").fetchone()
                if row is not None and rl.version <= row[0]:
                    raise StatusListError(rl.source, f"DCC revocation list version {rl.version} is not newer "
                                                     f"than the held version {row[0]}")
                c.execute("DELETE FROM dcc_revoked")
                c.executemany("INSERT OR IGNORE INTO dcc_revoked VALUES (?,?)", ((h, k) for k, h in rl.hashes))
                c.execute("INSERT OR REPLACE INTO dcc_revocation_list VALUES (1,?,?,?,?)",
                          (rl.version, rl.issued_at, rl.next_update, applied_at))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            finally:
                self._dcc_filter = None  # this connection's own commits leave data_version as it was
        return ApplyResult(DCC_REVOCATION_ISSUER, rl.version, True, 0, len(rl.hashes))

    def dcc_revoked(self, hashes: Sequence[tuple[str, bytes]]) -> str | None:
        """The hash type under which a DCC is revoked, or None."""
        if not hashes:
            return None
        with self._lock:
            data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            f = self._dcc_filter
            if f is None or data_version != self._dcc_filter_data_version:
                f = self._read_dcc_filter(data_version)
            mask, bits = f.mask, f.bits
            # The filter's two bits of each hash (see BitFilter), inline: this runs for every DCC checked.
            for _, h in hashes:
                x = int.from_bytes(h[:8], "big")
                a, b = x & mask, x >> 32 & mask
                if bits[a >> 3] >> (a & 7) & bits[b >> 3] >> (b & 7) & 1:
                    break
            else:
                return None  # the answer for nearly every certificate, without a query
            row = self._conn.execute(_dcc_revoked_sql(len(hashes)), list(chain.from_iterable(hashes))).fetchone()
        return row[0] if row else None

    def _read_dcc_filter(self, data_version: int) -> BitFilter:
        """The filter of the DCC revocation list held now, made again when another connection replaced
        the list (the sync agent applies lists from its own process). Call with the lock held."""
        c = self._conn
        # Another connection committed something (often a status list): read the hashes again only
        # when the DCC revocation list itself was replaced. Both reads are one snapshot.
        with durable.immediate_transaction(c, write_lock=False):
            held = c.execute("SELECT version, applied_at FROM dcc_revocation_list").fetchone()
            if self._dcc_filter is None or held != self._dcc_filter_list:
                count = c.execute("SELECT count(*) FROM dcc_revoked").fetchone()[0]
                self._dcc_filter = BitFilter((h for (h,) in c.execute("SELECT hash FROM dcc_revoked")), count)
                self._dcc_filter_list = held
        self._dcc_filter_data_version = data_version
        return self._dcc_filter

    def dcc_revocation_info(self) -> IssuerInfo | None:
        """The DCC revocation list held (its issuer reads `DCC_REVOCATION_ISSUER`), or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT version, issued_at, next_update, applied_at FROM dcc_revocation_list").fetchone()
        return IssuerInfo(DCC_REVOCATION_ISSUER, *row) if row else None
