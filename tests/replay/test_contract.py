"""The ReplayStore contract: every backend (SQLite, PostgreSQL) passes the same tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from cartridge.replay import EmptyReplayError, InvalidGameError, ReplayStore, sample_augmented
from cartridge.replay import postgres as postgres_module
from cartridge.replay import sqlite as sqlite_module
from cartridge.replay.codec import encode
from cartridge.replay.postgres import PostgresReplayStore
from cartridge.replay.sqlite import SqliteReplayStore
from tests.replay.helpers import make_game, position_ids

StoreFactory = Callable[[], ReplayStore]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens handles on one fresh database of the backend under test."""
    if request.param == "sqlite":
        def factory() -> ReplayStore:
            return SqliteReplayStore(tmp_path / "replay.db")
    else:
        url = request.getfixturevalue("postgres_db_url")

        def factory() -> ReplayStore:
            return PostgresReplayStore(url, pool_size=2)
    opened: list[ReplayStore] = []

    def tracked() -> ReplayStore:
        opened.append(factory())
        return opened[-1]

    yield tracked
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: StoreFactory) -> ReplayStore:
    return open_store()


def test_append_then_sample_round_trips(store: ReplayStore) -> None:
    rng = np.random.default_rng(1)
    game = make_game("connect4", 1, rng)
    assert store.append_game(game)
    batch = store.sample("connect4", 4, window=10, rng=rng)
    assert batch.observations.shape == (4, 2, 6, 7) and batch.observations.dtype == np.float32
    assert batch.legal_masks.shape == (4, 7) and batch.legal_masks.dtype == bool
    assert batch.policies.dtype == np.float32 and batch.values.shape == (4,)
    for i in range(4):
        np.testing.assert_array_equal(batch.observations[i], game.observations[0])
        np.testing.assert_array_equal(batch.legal_masks[i], game.legal_masks[0])
        np.testing.assert_array_equal(batch.policies[i], game.policies[0])
        assert batch.values[i] == game.outcomes[0]


def test_stats_count_positions_games_and_times(store: ReplayStore) -> None:
    rng = np.random.default_rng(2)
    assert store.stats("connect4").positions == 0
    store.append_game(make_game("connect4", 5, rng, created_at=1000.0))
    store.append_game(make_game("connect4", 7, rng, created_at=2000.0))
    stats = store.stats("connect4")
    assert (stats.positions, stats.games, stats.total_positions) == (12, 2, 12)
    assert (stats.oldest_created_at, stats.newest_created_at) == (1000.0, 2000.0)


def test_created_at_defaults_to_now(store: ReplayStore) -> None:
    before = time.time()
    store.append_game(make_game("connect4", 2, np.random.default_rng(3)))
    assert store.stats("connect4").newest_created_at >= before


def test_reappending_a_game_is_a_no_op(store: ReplayStore) -> None:
    game = make_game("connect4", 6, np.random.default_rng(4))
    assert store.append_game(game) is True
    assert store.append_game(game) is False
    stats = store.stats("connect4")
    assert (stats.positions, stats.games, stats.total_positions) == (6, 1, 6)


def test_a_failing_append_leaves_nothing(store: ReplayStore, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    game = make_game("connect4", 5, np.random.default_rng(5))

    def broken_encode(record):  # the last position fails in the database, mid-transaction
        rows = encode(record)
        rows.observations[-1] = None
        return rows

    for module in (sqlite_module, postgres_module):
        monkeypatch.setattr(module, "encode", broken_encode)
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its driver's error
        store.append_game(game)
    stats = store.stats("connect4")
    assert (stats.positions, stats.games, stats.total_positions) == (0, 0, 0)
    monkeypatch.undo()
    assert store.append_game(game) is True  # no half-stored game row blocks the retry
    assert store.stats("connect4").positions == 5


def test_env_ids_share_one_database(store: ReplayStore) -> None:
    rng = np.random.default_rng(6)
    store.append_game(make_game("connect4", 4, rng, outcome=1.0))
    store.append_game(make_game("tictactoe", 3, rng, outcome=-1.0))
    assert store.stats("connect4").positions == 4
    assert store.stats("tictactoe").positions == 3
    assert store.sample("tictactoe", 8, 100, rng).observations.shape == (8, 2, 3, 3)
    assert (store.sample("connect4", 8, 100, rng).values == 1.0).all()
    assert (store.sample("tictactoe", 8, 100, rng).values == -1.0).all()


def test_sampling_an_empty_buffer_raises(store: ReplayStore) -> None:
    rng = np.random.default_rng(7)
    with pytest.raises(EmptyReplayError):
        store.sample("connect4", 4, 10, rng)
    store.append_game(make_game("tictactoe", 3, rng))
    with pytest.raises(EmptyReplayError):
        store.sample("connect4", 4, 10, rng)


def test_samples_come_only_from_the_newest_window(store: ReplayStore) -> None:
    rng = np.random.default_rng(8)
    for _ in range(3):
        store.append_game(make_game("connect4", 10, rng, outcome=-1.0))
    for _ in range(2):
        store.append_game(make_game("connect4", 10, rng, outcome=1.0))
    assert (store.sample("connect4", 2000, window=20, rng=rng).values == 1.0).all()
    wider = store.sample("connect4", 2000, window=25, rng=rng).values
    assert 0 < (wider == -1.0).sum() < 2000 * 0.35  # expected 20%


def test_sampling_is_uniform_over_the_window(store: ReplayStore) -> None:
    rng = np.random.default_rng(9)
    for game in range(10):
        store.append_game(make_game("connect4", 10, rng, first_id=game * 10))
    ids = np.concatenate([position_ids(store.sample("connect4", 500, 100, rng).observations)
                          for _ in range(20)])
    counts = np.bincount(ids, minlength=100)
    assert len(counts) == 100
    # 10,000 draws over 100 positions: expected 100 each, sd 10; a bound of 5 sd.
    assert counts.min() > 50 and counts.max() < 150, counts


def test_trim_keeps_the_newest_capacity(store: ReplayStore) -> None:
    rng = np.random.default_rng(10)
    for game in range(6):
        store.append_game(make_game("connect4", 10, rng, first_id=game * 10))
    assert store.trim("connect4", capacity=25) == 35
    stats = store.stats("connect4")
    assert (stats.positions, stats.total_positions) == (25, 60)
    assert stats.games == 3  # the game straddling the cut keeps its newer positions
    ids = position_ids(store.sample("connect4", 1000, window=1000, rng=rng).observations)
    assert ids.min() == 35 and ids.max() == 59
    assert store.trim("connect4", capacity=25) == 0
    store.append_game(make_game("connect4", 10, rng))
    assert store.stats("connect4").total_positions == 70  # monotonic across trims


def test_handles_see_each_others_writes(open_store: StoreFactory) -> None:
    writer, reader = open_store(), open_store()
    writer.append_game(make_game("connect4", 3, np.random.default_rng(11)))
    assert reader.stats("connect4").positions == 3


@pytest.mark.parametrize("field, bad", [
    ("observations", np.zeros((5, 2, 7, 6), np.float32)),
    ("legal_masks", np.ones((5, 9), bool)),
    ("policies", np.ones((4, 7), np.float32)),
    ("observations", np.full((5, 2, 6, 7), 0.5, np.float32)),
])
def test_malformed_games_are_rejected_naming_game_and_actor(
    store: ReplayStore, field: str, bad: np.ndarray
) -> None:
    import dataclasses

    game = make_game("connect4", 5, np.random.default_rng(12), actor_id="actor-77")
    game = dataclasses.replace(game, **{field: bad})
    with pytest.raises(InvalidGameError) as error:
        store.append_game(game)
    assert game.game_id in str(error.value) and "actor-77" in str(error.value)
    assert "connect4" in str(error.value)
    assert store.stats("connect4").positions == 0


def test_sample_augmented_applies_symmetries(store: ReplayStore) -> None:
    rng = np.random.default_rng(13)
    game = make_game("connect4", 1, rng)
    store.append_game(game)
    batch = sample_augmented(store, "connect4", 200, 10, rng)
    mirrored = game.observations[0][:, :, ::-1]
    is_mirror = [np.array_equal(o, mirrored) for o in batch.observations]
    is_same = [np.array_equal(o, game.observations[0]) for o in batch.observations]
    assert all(m or s for m, s in zip(is_mirror, is_same, strict=True))
    assert 0 < sum(is_mirror) < 200
    flipped = batch.policies[np.array(is_mirror)]
    np.testing.assert_array_equal(flipped[0], game.policies[0][::-1])


def test_stats_report_observability_figures(store: ReplayStore) -> None:
    rng = np.random.default_rng(14)
    store.append_game(make_game("connect4", 4, rng))
    store.sample("connect4", 8, 10, rng)
    store.stats("connect4")
    extra = store.stats("connect4").extra
    assert {"ingest_positions_per_s", "sample_ms_p50", "sample_ms_p99"} <= set(extra)
