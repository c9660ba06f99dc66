"""Publishing that survives store outages: the trainer keeps training, no checkpoint is lost.

`publish_with_retry` blocks until one model is stored (retrying with capped
exponential backoff); `ModelPublisher` runs it in a background thread over a
FIFO queue, so `submit()` returns at once and every submitted checkpoint is
published, in order, once the store answers again. After each publish the
publisher applies the store's retention policy (modelstore/retention.py), in the
same thread, so training never waits for deletions.

A retry after a failure part-way through a publish claims a new version: the
half-written one never gets metadata, so readers and `versions()` ignore it.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cartridge.modelstore.base import ModelInfo, ModelStore, ModelStoreUnavailableError
from cartridge.modelstore.retention import RetentionPolicy, apply_retention

log = logging.getLogger(__name__)

_TRANSIENT = (ModelStoreUnavailableError, OSError)


def publish_with_retry(
    store: ModelStore,
    onnx: bytes,
    checkpoint: bytes,
    *,
    step: int,
    network: dict[str, Any],
    run: dict[str, Any] | None = None,
    int8: bytes | None = None,
    initial_backoff: float = 1.0,
    max_backoff: float = 60.0,
    stop: threading.Event | None = None,
) -> ModelInfo | None:
    """Publish, retrying every failure; None only if `stop` is set before it succeeds.

    Outages (ModelStoreUnavailableError, OSError) are logged once as warnings;
    anything else (e.g. permission denied) is logged as an error at every attempt,
    since only a person can fix it, but the checkpoint is still never dropped.
    """
    stop = stop or threading.Event()
    delay = initial_backoff
    attempt = 0
    while True:
        attempt += 1
        try:
            info = store.publish(onnx, checkpoint, step=step, network=network, run=run,
                                 int8=int8)
        except Exception as err:  # the checkpoint must survive any failure
            if not isinstance(err, _TRANSIENT):
                log.error("publishing step %d to %r failed (attempt %d): %s; retrying in %.1fs",
                          step, store, attempt, err, delay)
            elif attempt == 1:
                log.warning("model store %r unavailable while publishing step %d (%s); "
                            "retrying with backoff", store, step, err)
            else:
                log.debug("publish of step %d, attempt %d failed: %s", step, attempt, err)
            if stop.wait(delay):
                return None
            delay = min(max_backoff, delay * 2)
            continue
        if attempt > 1:
            log.info("published step %d as version %d after %d attempts",
                     step, info.version, attempt)
        return info


@dataclass(frozen=True)
class _Pending:
    onnx: bytes
    checkpoint: bytes
    step: int
    network: dict[str, Any]
    int8: bytes | None


class ModelPublisher:
    """Background publishing for the trainer.

    `submit()` queues a model and returns at once; a thread publishes the queue in
    order with `publish_with_retry`. `flush()` waits for the queue to drain (e.g.
    before exiting); `close()` flushes then stops the thread. Every model carries
    `run` (what produced it) in its metadata; `retention` (None = keep everything)
    is applied after each publish, keeping the versions `protected()` names too (the
    arena's promotions); when that cannot be read, the pass is skipped, since deleting
    a version someone refers to cannot be undone.
    """

    def __init__(
        self, store: ModelStore, *, run: dict[str, Any] | None = None,
        retention: RetentionPolicy | None = None,
        protected: Callable[[], set[int]] | None = None,
        initial_backoff: float = 1.0, max_backoff: float = 60.0,
    ) -> None:
        self.store = store
        self.protected = protected
        self.run = run
        self.retention = retention
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.last_published: ModelInfo | None = None
        self._queue: collections.deque[_Pending] = collections.deque()
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-publisher", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Models submitted and not yet stored (the one being uploaded included)."""
        with self._changed:
            return len(self._queue)

    def submit(
        self, onnx: bytes, checkpoint: bytes, *, step: int, network: dict[str, Any],
        int8: bytes | None = None,
    ) -> None:
        """Queue a model (`int8`: its int8 ONNX too, None = none) for publishing."""
        if self._stop.is_set():
            raise RuntimeError("ModelPublisher is closed")
        with self._changed:
            self._queue.append(_Pending(onnx, checkpoint, step, dict(network), int8))
            if len(self._queue) > 1:
                log.warning("%d models waiting for the model store", len(self._queue))
            self._changed.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted model is stored; False if `timeout` ran out first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush (up to `timeout`), then stop. False if models were left unpublished."""
        flushed = self.flush(timeout)
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        self._thread.join()
        if not flushed:
            log.error("%d models were not published before close()", self.pending)
        return flushed

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queue or self._stop.is_set())
                if not self._queue:
                    return
                item = self._queue[0]  # stays queued until stored
            info = publish_with_retry(
                self.store, item.onnx, item.checkpoint, step=item.step, network=item.network,
                run=self.run, int8=item.int8, initial_backoff=self.initial_backoff,
                max_backoff=self.max_backoff, stop=self._stop,
            )
            with self._changed:
                if info is None:  # stopped while the store was down: the item stays queued
                    self._changed.notify_all()
                    return
                self._queue.popleft()
                self.last_published = info
                self._changed.notify_all()
            if self.retention is not None:
                self._apply_retention()

    def _apply_retention(self) -> None:
        assert self.retention is not None
        try:
            protected = self.protected() if self.protected is not None else set()
            apply_retention(self.store, self.retention, protected)
        except Exception as err:  # old versions can wait; publishing must go on
            log.warning("model retention on %r failed (retried after the next publish): %s",
                        self.store, err)
