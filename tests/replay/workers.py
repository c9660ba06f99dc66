"""Writer processes for the concurrency and fault tests (importable under spawn)."""

from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path

import numpy as np

from cartridge.replay import ReplayStore, ReplayWriter
from tests.replay.helpers import make_game


def _open(backend: str, where: str) -> ReplayStore:
    if backend == "sqlite":
        from cartridge.replay.sqlite import SqliteReplayStore

        # A tiny busy timeout, so the store's own waiting and retrying is what gets tested.
        return SqliteReplayStore(where, busy_timeout=0.01)
    from cartridge.replay.postgres import PostgresReplayStore

    return PostgresReplayStore(where, pool_size=1, connect_timeout=2)


def append_games(backend: str, where: str, actor_id: str, games: int, out: str) -> None:
    """append_game() directly; writes the acknowledged game ids to `out` as JSON."""
    rng = np.random.default_rng(zlib.crc32(actor_id.encode()))  # the same in every process
    acknowledged = []
    with _open(backend, where) as store:
        for _ in range(games):
            game = make_game("connect4", int(rng.integers(8, 30)), rng, actor_id=actor_id)
            if store.append_game(game):
                acknowledged.append(game.game_id)
    Path(out).write_text(json.dumps(acknowledged))


def write_through_writer(where: str, actor_id: str, games: int, out: str) -> None:
    """Put games through a ReplayWriter (retrying across a server crash), then flush."""
    logging.basicConfig(level=logging.WARNING)
    rng = np.random.default_rng(zlib.crc32(actor_id.encode()))  # the same in every process
    from cartridge.replay.postgres import PostgresReplayStore

    store = PostgresReplayStore(where, pool_size=1, connect_timeout=2)
    writer = ReplayWriter(store, max_queue=8, initial_backoff=0.05, max_backoff=0.5)
    put = []
    for _ in range(games):
        game = make_game("connect4", int(rng.integers(8, 30)), rng, actor_id=actor_id)
        writer.put(game)
        put.append(game.game_id)
    flushed = writer.close(timeout=240)
    store.close()
    Path(out).write_text(json.dumps({"put": put, "flushed": flushed,
                                     "failed_attempts": writer.failed_attempts}))
