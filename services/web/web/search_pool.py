"""A bounded pool for searches: `threads` run at once, `max_queued` more may wait, and a
request beyond that is refused at once (the route answers 503 with Retry-After) instead
of piling up until the service runs out of memory or time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class PoolFullError(RuntimeError):
    """Every search thread is busy and the queue is full."""


class SearchPool:
    def __init__(self, threads: int, max_queued: int) -> None:
        self.threads = threads
        self.capacity = threads + max_queued
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="search")
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._lock = threading.Lock()
        self.in_use = 0

    async def run(self, work: Callable[[], T]) -> T:
        """`work()` on a search thread; PoolFullError at once when no slot is free. The
        slot is held until the work ends, even if the client gives up waiting, so the
        bound counts every search that still uses a CPU."""
        if not self._slots.acquire(blocking=False):
            raise PoolFullError(f"all {self.capacity} search slots are taken")
        with self._lock:
            self.in_use += 1
        try:
            future = self._executor.submit(work)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        with self._lock:
            self.in_use -= 1
        self._slots.release()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
