"""Journal writes from the trainer and the actors: they must never hold up training or
self-play, so the journal is opened on first use (and again after a failure, at most
every RETRY_S), and a row that cannot be written is dropped with a warning (at most one
per RETRY_S). The rows are the dashboard's history, a convenience: the trainer's
checkpoints and the actors' games do not depend on them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from cartridge.journal.journal import Journal, JournalError

log = logging.getLogger(__name__)
RETRY_S = 60.0
T = TypeVar("T")


class BestEffortJournal:
    def __init__(self, opener: Callable[[], Journal], what: str) -> None:
        self._opener = opener
        self._what = what  # for messages: "training history", "heartbeats"
        self._journal: Journal | None = None
        self._quiet_until = 0.0
        self._opening = threading.Lock()  # writes and reads may come from two threads
        self.dropped = 0

    def write(self, action: Callable[[Journal], None]) -> bool:
        """`action(journal)`; False (the row dropped) while the journal cannot take it."""
        now = time.monotonic()
        try:
            if self._journal is None and now < self._quiet_until:
                self.dropped += 1
                return False
            action(self._open())
            return True
        except (JournalError, OSError) as err:
            self.dropped += 1
            if now >= self._quiet_until:
                log.warning("journal unavailable, %s not recorded (retrying within %.0f s): "
                            "%s", self._what, RETRY_S, err)
                self._quiet_until = now + RETRY_S
            self.close()
            return False

    def read(self, query: Callable[[Journal], T]) -> T:
        """`query(journal)`; unlike writes, a failure is the caller's to handle: it
        raises JournalError or OSError (and the next call opens the journal again)."""
        try:
            return query(self._open())
        except (JournalError, OSError):
            self.close()
            raise

    def _open(self) -> Journal:
        with self._opening:
            if self._journal is None:
                self._journal = self._opener()
            return self._journal

    def close(self) -> None:
        if self._journal is not None:
            try:
                self._journal.close()
            finally:
                self._journal = None
