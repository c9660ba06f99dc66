"""[training] prefetch_batches bounds how far the prefetch thread runs ahead of the
optimiser: with depth k and a consumer that takes nothing, the store is sampled k + 1
times (k batches queued, one more fetched and waiting for room), never more."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cartridge.replay.base import SampledBatch
from cartridge.replay.sqlite import SqliteReplayStore
from tests.trainer.helpers import fill_replay, write_config
from trainer.cli import load
from trainer.loop import train
from trainer.prefetch import Prefetcher
from trainer.wiring import trainer_inputs

SETTLE = 0.5  # seconds given to a producer that would overrun its bound, to show it


class CallCounter:
    """Counts calls from any thread; an event fires when the count reaches `limit`,
    another when it goes past it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.calls = 0
        self.reached = threading.Event()
        self.overran = threading.Event()
        self._lock = threading.Lock()

    def count(self) -> int:
        with self._lock:
            self.calls += 1
            if self.calls >= self.limit:
                self.reached.set()
            if self.calls > self.limit:
                self.overran.set()
            return self.calls - 1

    def raise_limit(self, by: int) -> None:
        with self._lock:
            self.limit += by
            self.reached.clear()


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_the_producer_runs_at_most_depth_batches_ahead(depth: int) -> None:
    counter = CallCounter(limit=depth + 1)
    with Prefetcher(counter.count, depth) as prefetcher:
        assert counter.reached.wait(30)
        assert not counter.overran.wait(SETTLE)
        assert counter.calls == depth + 1
        # Each batch taken makes room for exactly one more fetch.
        for taken in range(3):
            counter.raise_limit(1)
            assert prefetcher.get() == taken
            assert counter.reached.wait(30)
            assert not counter.overran.wait(SETTLE)
            assert counter.calls == depth + 2 + taken


class CountingSqliteReplayStore(SqliteReplayStore):
    """The real SQLite store, counting its sample() calls (the prefetch thread's)."""

    def __init__(self, path: Path, counter: CallCounter) -> None:
        super().__init__(path)
        self._counter = counter

    def sample(self, env_id: str, batch_size: int, window: int,
               rng: np.random.Generator) -> SampledBatch:
        self._counter.count()
        return super().sample(env_id, batch_size, window, rng)


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("prefetch_batches", [1, 3])
def test_training_prefetch_batches_is_the_trainer_s_queue_depth(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, prefetch_batches: int
) -> None:
    # The train/data ratio budget (positions x 0.01) is below one batch, so the loop
    # waits before its first step and never takes a batch: only prefetching samples.
    config = write_config(tmp_path / "config.toml", batch_size=32, min_positions=20,
                          max_samples_per_position=0.01, wait_interval=0.05, device="cpu",
                          prefetch_batches=prefetch_batches, seed=5)
    db = tmp_path / "replay.db"
    assert fill_replay(db, "tictactoe", games=10, seed=1) * 0.01 < 32
    settings = load(["--config", str(config), "--env", "tictactoe", "--db", str(db),
                     "--model-dir", str(tmp_path / "models"),
                     "--stats", str(tmp_path / "stats.json"), "--steps", "10"])
    assert settings.training.prefetch_batches == prefetch_batches
    counter = CallCounter(limit=prefetch_batches + 1)
    inputs = dataclasses.replace(trainer_inputs(settings),
                                 open_replay=lambda: CountingSqliteReplayStore(db, counter))
    stop = threading.Event()
    result: dict[str, int] = {}
    caplog.set_level(logging.INFO, logger="trainer")
    worker = threading.Thread(target=lambda: result.update(step=train(inputs, stop)))
    worker.start()
    try:
        deadline = time.monotonic() + 300
        while "train/data ratio reached" not in caplog.text or not counter.reached.is_set():
            assert worker.is_alive(), caplog.text
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
        assert not counter.overran.wait(SETTLE)
        assert counter.calls == prefetch_batches + 1
    finally:
        stop.set()
        worker.join(timeout=300)
    assert not worker.is_alive()
    assert result["step"] == 0
