"""Actor-side replay writer: a bounded queue of finished games and a thread that stores them.

While the database is unreachable the thread retries with exponential backoff; the
queue fills, and `put()` then blocks, which pauses the actor's self-play
(backpressure) instead of dropping data. Games are validated in `put()`, so a
malformed game fails in the caller that made it, not silently in the thread.
Appends are idempotent (unique game ids), so a retry after a lost acknowledgement
never duplicates a game.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from cartridge.replay.base import GameRecord, ReplayStore
from cartridge.replay.codec import validate

log = logging.getLogger(__name__)


class WriterClosedError(RuntimeError):
    """put() after close()."""


class ReplayWriter:
    """`max_queue`: finished games held in memory before put() blocks.
    Backoff doubles from `initial_backoff` to `max_backoff` seconds between retries."""

    def __init__(
        self,
        store: ReplayStore,
        *,
        max_queue: int = 256,
        initial_backoff: float = 0.1,
        max_backoff: float = 10.0,
    ) -> None:
        self._store = store
        self._queue: queue.Queue[GameRecord] = queue.Queue(maxsize=max_queue)
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._closing = threading.Event()
        self._stop = threading.Event()
        self._count_lock = threading.Lock()
        self.acknowledged_games = 0
        self.acknowledged_positions = 0
        self.duplicate_games = 0  # already stored (a retry whose first attempt had landed)
        self.failed_attempts = 0
        self._thread = threading.Thread(target=self._run, name="replay-writer", daemon=True)
        self._thread.start()

    @property
    def pending_games(self) -> int:
        """Games queued or being written, not yet acknowledged by the store."""
        return self._queue.unfinished_tasks

    def put(self, game: GameRecord, timeout: float | None = None) -> None:
        """Queue a finished game; blocks while the queue is full (raises queue.Full on timeout)."""
        if self._closing.is_set():
            raise WriterClosedError("ReplayWriter is closed")
        validate(game)
        self._queue.put(game, timeout=timeout)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued game is acknowledged; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float | None = 30.0) -> bool:
        """Flush (up to `timeout` seconds), then stop the thread. False if games were left."""
        self._closing.set()
        flushed = self.flush(timeout)
        if not flushed:
            log.error("replay writer closing with %d games not stored", self.pending_games)
        self._stop.set()
        self._thread.join(timeout=5.0)
        return flushed

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                game = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                self._store_with_retry(game)
            finally:
                self._queue.task_done()

    def _store_with_retry(self, game: GameRecord) -> None:
        delay = self._initial_backoff
        while True:
            try:
                inserted = self._store.append_game(game)
            except Exception as err:  # unreachable or restarting database: wait and retry
                with self._count_lock:
                    self.failed_attempts += 1
                if self._stop.is_set():
                    log.error("replay writer stopped; game %s not stored: %s", game.game_id, err)
                    return
                log.warning("storing game %s failed (%s); retrying in %.1f s",
                            game.game_id, err, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            with self._count_lock:
                if inserted:
                    self.acknowledged_games += 1
                    self.acknowledged_positions += game.num_positions
                else:
                    self.duplicate_games += 1
            return
