"""ModelWatcher: follow a store pointer and hand the caller a ready Evaluator.

A background thread polls the followed pointer (`latest` or `best`) every
`reload_interval` seconds; when it names a version other than the one loaded,
the thread downloads its model of the watcher's `precision` (model.onnx for fp32,
model.int8.onnx for int8), verifies its sha256 and builds the evaluator with the
caller's `load`. The caller swaps evaluators on its own thread, between search
batches, by calling `poll()`, which only takes a lock: a slow download or a
dead store never stalls self-play.

A missing or corrupt version is refused, logged with its key and remembered, so
it is not downloaded again; the current model stays. So is a version without a
model of the asked precision (int8 asked, none published): it is skipped, never
played in the other precision instead. While the store is
unreachable the thread logs once and retries with capped exponential backoff.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from cartridge.inference.base import Evaluator
from cartridge.modelstore.base import (
    CorruptModelError,
    ModelInfo,
    ModelStore,
    Pointer,
    Precision,
)

log = logging.getLogger(__name__)

LoadEvaluator = Callable[[ModelInfo, bytes], Evaluator]


class ModelWatcher:
    def __init__(
        self,
        store: ModelStore,
        *,
        follow: Pointer = "latest",
        precision: Precision = "fp32",
        load: LoadEvaluator,
        reload_interval: float = 1.0,
        max_backoff: float = 30.0,
        current_version: int = 0,
    ) -> None:
        """`current_version` is the version the caller plays now (0: the uniform evaluator)."""
        if reload_interval <= 0:
            raise ValueError(f"reload_interval must be positive, got {reload_interval}")
        self.store = store
        self.follow: Pointer = follow
        self.precision: Precision = precision
        self.reload_interval = reload_interval
        self.max_backoff = max(max_backoff, reload_interval)
        self._load = load
        self._lock = threading.Lock()
        self._ready: Evaluator | None = None
        self._current_version = current_version  # in the caller's hands
        self._loaded_version = current_version  # newest the thread has built
        self._refused: set[int] = set()
        self._failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current_version(self) -> int:
        """The version of the evaluator last handed out by poll() (or given at start)."""
        return self._current_version

    @property
    def refused_versions(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._refused)

    # -- caller's thread -----------------------------------------------------

    def poll(self) -> Evaluator | None:
        """A newly loaded evaluator to swap in now, or None. Cheap: call it between batches."""
        with self._lock:
            evaluator, self._ready = self._ready, None
        if evaluator is not None:
            self._current_version = evaluator.model_version
        return evaluator

    def start(self) -> ModelWatcher:
        """Start the background thread; the first check runs at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> ModelWatcher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- background ----------------------------------------------------------

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.wait(delay):
            self.check_now()
            delay = self.next_delay()

    def next_delay(self) -> float:
        """reload_interval while the store answers; doubling up to max_backoff while it does not."""
        if self._failures == 0:
            return self.reload_interval
        return min(self.max_backoff, self.reload_interval * 2 ** self._failures)

    def check_now(self) -> bool:
        """One check of the pointer (the thread's loop body; tests call it directly).

        True when a new evaluator is ready for poll().
        """
        try:
            version = self.store.pointer(self.follow)
        except Exception as err:  # any failure here means "keep playing, retry"
            self._store_failed(err)
            return False
        if version is None or version == self._loaded_version or version in self._refused:
            self._store_answered()
            return False
        try:
            info = self.store.info(version)
            onnx = self.store.load_model(version, self.precision)
        except CorruptModelError as err:
            self._store_answered()
            self._refuse(version, str(err))
            return False
        except Exception as err:
            self._store_failed(err)
            return False
        self._store_answered()
        try:
            evaluator = self._load(info, onnx)
        except Exception as err:  # verified bytes the runtime cannot use
            self._refuse(version, f"{self.store!r} version {version} failed to load: {err}")
            return False
        with self._lock:
            self._ready = evaluator
            self._loaded_version = version
        log.info(
            "model version %d (step %d, %s) loaded from %s; playing it from the next batch",
            version, info.step, self.precision, self.follow,
        )
        return True

    def _refuse(self, version: int, reason: str) -> None:
        with self._lock:
            self._refused.add(version)
        log.error(
            "refusing model version %d named by %r: %s; keeping version %d",
            version, self.follow, reason, self._loaded_version,
        )

    def _store_failed(self, err: Exception) -> None:
        self._failures += 1
        if self._failures == 1:
            log.warning(
                "model store %r unavailable (%s); keeping version %d and retrying with backoff",
                self.store, err, self._loaded_version,
            )
        else:
            log.debug("model store still unavailable (%d attempts): %s", self._failures, err)

    def _store_answered(self) -> None:
        if self._failures:
            log.info("model store %r answers again after %d failed checks",
                     self.store, self._failures)
            self._failures = 0
