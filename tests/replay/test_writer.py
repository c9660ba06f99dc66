"""ReplayWriter: retry with backoff while the store fails, backpressure when the queue is full."""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import pytest

from cartridge.replay import GameRecord, InvalidGameError, ReplayStats, ReplayStore, ReplayWriter
from tests.replay.helpers import make_game


class FlakyStore(ReplayStore):
    """Fails every append while `down` is set; `lose_ack` stores the game, then fails."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.lose_ack = 0
        self.games: dict[str, int] = {}
        self.calls = 0

    def append_game(self, game: GameRecord) -> bool:
        self.calls += 1
        if self.down.is_set():
            raise ConnectionError("database unreachable")
        new = game.game_id not in self.games
        if new:  # like a real store: a known game id is not stored again
            self.games[game.game_id] = 1
        if self.lose_ack:
            self.lose_ack -= 1
            raise ConnectionError("connection lost before the acknowledgement")
        return new

    def sample(self, *args: object) -> None:  # type: ignore[override]
        raise NotImplementedError

    def stats(self, env_id: str) -> ReplayStats:
        return ReplayStats(0, len(self.games), 0)

    def trim(self, env_id: str, capacity: int) -> int:
        return 0

    def close(self) -> None:
        pass


def games(count: int) -> list[GameRecord]:
    rng = np.random.default_rng(0)
    return [make_game("tictactoe", 3, rng) for _ in range(count)]


def test_games_are_stored_once_each() -> None:
    store = FlakyStore()
    writer = ReplayWriter(store)
    batch = games(20)
    for game in batch:
        writer.put(game)
    assert writer.close(timeout=10)
    assert store.games == {g.game_id: 1 for g in batch}
    assert writer.acknowledged_games == 20 and writer.acknowledged_positions == 60
    assert writer.pending_games == 0


def test_full_queue_blocks_put_until_the_store_is_back() -> None:
    store = FlakyStore()
    store.down.set()
    writer = ReplayWriter(store, max_queue=2, initial_backoff=0.01, max_backoff=0.05)
    batch = games(4)
    for game in batch[:3]:  # one in the thread's hands, two queued
        writer.put(game, timeout=5)
    with pytest.raises(queue.Full):
        writer.put(batch[3], timeout=0.3)  # backpressure: self-play would pause here
    assert writer.pending_games == 3 and writer.acknowledged_games == 0
    # The writer thread holds a game; its first failed append may still be under way.
    deadline = time.monotonic() + 10
    while writer.failed_attempts < 1:
        assert time.monotonic() < deadline, "the writer never tried the store while it was down"
        time.sleep(0.01)
    assert writer.acknowledged_games == 0
    store.down.clear()
    writer.put(batch[3], timeout=5)
    assert writer.close(timeout=10)
    assert set(store.games) == {g.game_id for g in batch}
    assert writer.acknowledged_games == 4


def test_a_lost_acknowledgement_is_retried_without_duplicating() -> None:
    store = FlakyStore()
    store.lose_ack = 1
    writer = ReplayWriter(store, initial_backoff=0.01)
    game = games(1)[0]
    writer.put(game)
    assert writer.close(timeout=10)
    assert store.games == {game.game_id: 1} and store.calls == 2
    assert writer.duplicate_games == 1


def test_close_reports_games_left_behind() -> None:
    store = FlakyStore()
    store.down.set()
    writer = ReplayWriter(store, initial_backoff=0.01, max_backoff=0.02)
    writer.put(games(1)[0])
    assert writer.close(timeout=0.2) is False


def test_malformed_games_fail_in_put() -> None:
    writer = ReplayWriter(FlakyStore())
    game = games(1)[0]
    bad = GameRecord(game.game_id, "tictactoe", "actor-9", game.observations[:, :1],
                     game.legal_masks, game.policies, game.outcomes, game.model_versions)
    with pytest.raises(InvalidGameError, match="actor-9"):
        writer.put(bad)
    writer.close()
