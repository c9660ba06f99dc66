"""Batches fetched by a background thread into a bounded queue, so the optimiser
never waits on the replay store while there is a batch ready.

The store's I/O (SQLite, PostgreSQL) and most numpy work release the GIL, so one
thread overlaps them with the optimiser step.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class PrefetchError(RuntimeError):
    """The fetch function raised in the background thread; the cause is chained."""


class Prefetcher(Generic[T]):
    """Calls `fetch()` repeatedly in a daemon thread, keeping up to `depth` results ready.

    `on_exit()` runs in the same thread when it ends (to close what fetch opened there).
    """

    def __init__(
        self,
        fetch: Callable[[], T],
        depth: int,
        *,
        on_exit: Callable[[], None] | None = None,
        name: str = "prefetch",
    ) -> None:
        self._fetch = fetch
        self._on_exit = on_exit
        self._queue: queue.Queue[tuple[T | None, BaseException | None]] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._produce()
        finally:
            if self._on_exit is not None:
                self._on_exit()

    def _produce(self) -> None:
        while not self._stop.is_set():
            try:
                item: tuple[T | None, BaseException | None] = (self._fetch(), None)
            except BaseException as err:  # handed to the consumer, which re-raises
                item = (None, err)
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if item[1] is not None:
                return

    def get(self) -> T:
        """The next batch; blocks until one is ready. Raises PrefetchError if fetching failed."""
        while True:
            try:
                value, error = self._queue.get(timeout=1.0)
                break
            except queue.Empty:
                if not self._thread.is_alive():
                    raise PrefetchError("prefetch thread exited") from None
        if error is not None:
            raise PrefetchError(f"fetching a batch failed: {error}") from error
        return value  # type: ignore[return-value]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
