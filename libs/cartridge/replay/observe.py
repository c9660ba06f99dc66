"""Per-store observability: ingest rate and sample latency, reported in ReplayStats.extra."""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

_LATENCY_SAMPLES = 1000


class StoreMetrics:
    """Counters a store updates as it works; `extra()` turns them into ReplayStats.extra."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=_LATENCY_SAMPLES)
        self._last_total: tuple[float, int] | None = None  # (time, total_positions)
        self.appended_games = 0
        self.appended_positions = 0

    def record_sample(self, seconds: float) -> None:
        with self._lock:
            self._latencies.append(seconds)

    def record_append(self, positions: int) -> None:
        with self._lock:
            self.appended_games += 1
            self.appended_positions += positions

    def extra(self, total_positions: int) -> dict[str, float]:
        """Ingest rate across all writers since the previous call, latency of recent samples."""
        now = time.monotonic()
        with self._lock:
            result: dict[str, float] = {
                "appended_games": float(self.appended_games),
                "appended_positions": float(self.appended_positions),
            }
            if self._last_total is not None and now > self._last_total[0]:
                rate = (total_positions - self._last_total[1]) / (now - self._last_total[0])
                result["ingest_positions_per_s"] = rate
            self._last_total = (now, total_positions)
            if self._latencies:
                ms = np.asarray(self._latencies) * 1000.0
                result["sample_ms_p50"] = float(np.percentile(ms, 50))
                result["sample_ms_p99"] = float(np.percentile(ms, 99))
        return result
