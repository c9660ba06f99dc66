"""Waiting for the replay buffer to exist and hold enough positions to train on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cartridge.replay.base import ReplayStore

log = logging.getLogger(__name__)

# Seconds between "still waiting" log lines.
_LOG_EVERY = 30.0


class ReplayWaitTimeoutError(RuntimeError):
    """The replay buffer did not appear or fill up within [training] max_wait."""


def wait_for_replay(
    open_replay: Callable[[], ReplayStore | None],
    *,
    where: str,
    env_id: str,
    min_positions: int,
    interval: float,
    max_wait: float,
    wait: Callable[[float], bool],
    clock: Callable[[], float] = time.monotonic,
) -> ReplayStore | None:
    """The opened store once it holds `min_positions` positions of `env_id`.

    `open_replay()` returns None while the buffer does not exist yet. `wait(s)`
    sleeps and returns True when the trainer is asked to stop, in which case
    this returns None. `max_wait` 0 waits forever.
    """
    started = clock()
    last_log = -_LOG_EVERY
    store: ReplayStore | None = None
    positions = 0
    while True:
        if store is None:
            store = open_replay()
        if store is not None:
            positions = store.stats(env_id).positions
            if positions >= min_positions:
                return store
        elapsed = clock() - started
        if max_wait > 0 and elapsed >= max_wait:
            if store is not None:
                store.close()
            state = (f"it holds {positions} {env_id} positions" if store is not None
                     else "it does not exist")
            raise ReplayWaitTimeoutError(
                f"gave up after {elapsed:.0f}s waiting for the replay buffer at {where}: "
                f"{state}, training needs {min_positions} ([training] min_positions; "
                f"[training] max_wait sets the timeout). Is an actor writing to it?"
            )
        if elapsed - last_log >= _LOG_EVERY:
            log.info("waiting for the replay buffer at %s: %d/%d %s positions",
                     where, positions, min_positions, env_id)
            last_log = elapsed
        if wait(interval):
            if store is not None:
                store.close()
            return None
