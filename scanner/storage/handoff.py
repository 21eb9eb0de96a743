"""A writer thread for the visit log: the screen shows a decision at once, the row reaches disk right after.

An append with `synchronous=FULL` waits for fsync: about a millisecond on an SSD, 2-10 ms on an SD card.
Waiting for it before painting puts that on every passenger. `HandOff` runs the write on its own
thread instead, with at most one item in flight: handing over the next waits until the previous one is
on disk (or has failed). So at any moment at most one decision has been shown but not yet stored,
and a crash (power cut, kill -9) between paint and fsync loses at most that one decision. Nothing is
reported to the hub before it is durable: the sync agent reads the outbox, which holds only committed
rows.

Readers of the log wait for the item in flight first (`settle`), so they always see every visit handed
over before the read.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from scanner.errors import CheckpointError

log = logging.getLogger(__name__)

T = TypeVar("T")


class Handed(Generic[T]):
    """One item on its way to disk: `durable` is set once it is stored or has failed (`error`)."""

    def __init__(self, item: T, on_error: Callable[[T, CheckpointError], None] | None):
        self.item = item
        self.on_error = on_error
        self.durable = threading.Event()
        self.error: CheckpointError | None = None

    def wait(self, timeout: float | None = None) -> bool:
        """True once the item is on disk; False on a timeout or when writing it failed."""
        return self.durable.wait(timeout) and self.error is None


class HandOff(Generic[T]):
    """Runs `write(item)` on one daemon thread, for one item at a time, in the order handed over."""

    def __init__(self, write: Callable[[T], object], name: str):
        self._write = write
        self._name = name
        self._free = threading.Semaphore(1)
        self._queue: queue.SimpleQueue[Handed[T] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def hand(self, item: T, on_error: Callable[[T, CheckpointError], None] | None = None) -> Handed[T]:
        """Queue `item`; returns at once unless the previous item is still being written."""
        self._ensure_thread()
        self._free.acquire()  # released by the writer once the previous item is on disk
        handed = Handed(item, on_error)
        self._queue.put(handed)
        return handed

    def settle(self) -> None:
        """Wait until the item in flight, if any, is on disk (a no-op on the writer thread itself)."""
        if self._thread is None or threading.current_thread() is self._thread:
            return
        with self._free:
            pass

    def close(self) -> None:
        """Write what is in flight, then stop the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        with self._free:
            self._queue.put(None)
        thread.join()
        atexit.unregister(self.settle)

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
                # A daemon thread is stopped abruptly at exit: let an orderly exit write what is in flight.
                atexit.register(self.settle)

    def _run(self) -> None:
        while (handed := self._queue.get()) is not None:
            try:
                self._write(handed.item)
            except CheckpointError as e:
                handed.error = e
                if handed.on_error is not None:
                    handed.on_error(handed.item, e)
                else:
                    log.error("%s: not written: %s", self._name, e)
            except Exception as e:  # a bug must not stop every later visit from being written
                log.exception("%s: writing failed", self._name)
                handed.error = CheckpointError(f"{self._name}: writing failed: {e}")
                if handed.on_error is not None:
                    handed.on_error(handed.item, handed.error)
            finally:
                handed.durable.set()
                self._free.release()
