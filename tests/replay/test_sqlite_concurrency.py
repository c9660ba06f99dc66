"""Several writer processes and a sampler on one SQLite file; a locked database is waited for."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import sqlite3
import threading
from pathlib import Path

import numpy as np

from cartridge.replay import EmptyReplayError
from cartridge.replay.sqlite import SqliteReplayStore
from tests.replay.helpers import make_game
from tests.replay.workers import append_games

WRITERS, GAMES = 4, 25


def test_writer_processes_and_a_sampler(tmp_path: Path) -> None:
    path = tmp_path / "replay.db"
    SqliteReplayStore(path).close()  # schema first, so writers race only on appends
    context = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"actor-{i}.json" for i in range(WRITERS)]
    procs = [context.Process(target=append_games,
                             args=("sqlite", str(path), f"actor-{i}", GAMES, str(out)))
             for i, out in enumerate(outs)]
    for proc in procs:
        proc.start()
    rng = np.random.default_rng(0)
    with SqliteReplayStore(path, busy_timeout=0.01) as trainer:
        while any(proc.is_alive() for proc in procs):
            with contextlib.suppress(EmptyReplayError):
                trainer.sample("connect4", 128, 1000, rng)
        for proc in procs:
            proc.join()
            assert proc.exitcode == 0
        stats = trainer.stats("connect4")
    acknowledged = [gid for out in outs for gid in json.loads(out.read_text())]
    assert len(set(acknowledged)) == WRITERS * GAMES
    with sqlite3.connect(path) as conn:
        stored = dict(conn.execute(
            "SELECT g.game_id, count(p.seq) = g.num_positions FROM replay_games g"
            " JOIN replay_positions p USING (game_id) GROUP BY g.game_id").fetchall())
    assert set(stored) == set(acknowledged) and all(stored.values())
    assert stats.games == len(acknowledged)


def test_a_locked_database_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "replay.db"
    store = SqliteReplayStore(path, busy_timeout=0.01)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    release = threading.Timer(1.0, lambda: blocker.execute("COMMIT"))
    release.start()
    try:
        assert store.append_game(make_game("connect4", 5, np.random.default_rng(0)))
    finally:
        release.join()
        blocker.close()
    assert store.stats("connect4").positions == 5
    store.close()
