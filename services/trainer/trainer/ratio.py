"""Train/data ratio limit: at most `max_samples_per_position` training samples per
position ever added to the replay buffer (KataGo's and Reverb's rate limiter).

Without it a fast trainer overfits a small buffer; with it the trainer waits
for self-play to catch up instead. The position count is asked of the store
only when the cached budget runs out, never every step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class RatioLimiter:
    def __init__(
        self,
        max_samples_per_position: float,
        total_positions: Callable[[], int],
        wait: Callable[[float], bool],
        wait_interval: float,
    ) -> None:
        """`total_positions` reads the monotonic count of positions ever added;
        `wait(seconds)` sleeps and returns True when the trainer should stop
        (a threading.Event's wait)."""
        self._ratio = max_samples_per_position
        self._total_positions = total_positions
        self._wait = wait
        self._interval = wait_interval
        self.positions = 0  # last count read
        # Seconds spent waiting for data: the trainer's demand for more self-play (its
        # share of wall time is exported, and actors are scaled on it).
        self._waited_s = 0.0
        self._waiting_since: float | None = None

    def budget(self) -> float:
        """Samples the current data allows in all."""
        return self._ratio * self.positions

    def acquire(self, samples_trained: int, batch_size: int) -> bool:
        """Block until one more batch fits the budget; False if asked to stop meanwhile."""
        if samples_trained + batch_size <= self.budget():
            return True
        self.positions = self._total_positions()
        if samples_trained + batch_size <= self.budget():
            return True
        self._waiting_since = time.monotonic()
        try:
            return self._wait_for_budget(samples_trained, batch_size)
        finally:
            self._waited_s += time.monotonic() - self._waiting_since
            self._waiting_since = None

    def waited_s(self) -> float:
        """Seconds spent waiting so far, a wait in progress included (read from other
        threads, e.g. at a metrics scrape)."""
        since = self._waiting_since
        return self._waited_s + (0.0 if since is None else time.monotonic() - since)

    def _wait_for_budget(self, samples_trained: int, batch_size: int) -> bool:
        waited = False
        while samples_trained + batch_size > self.budget():
            if not waited:
                log.info(
                    "train/data ratio reached (%d samples trained, %d positions x %.2f): "
                    "waiting for fresh self-play data",
                    samples_trained, self.positions, self._ratio,
                )
                if samples_trained > 2 * self.budget():
                    # Samples count from step 0 of the checkpoint, positions from the
                    # replay buffer's creation: a newer buffer makes the wait long.
                    log.warning("the checkpoint has trained on far more samples than this "
                                "replay buffer allows: was the buffer replaced? training "
                                "resumes at %d positions", int(samples_trained / self._ratio))
                waited = True
            if self._wait(self._interval):
                return False
            self.positions = self._total_positions()
        if waited:
            log.info("fresh data: %d positions; training resumes", self.positions)
        return True
