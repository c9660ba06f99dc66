"""8 writer processes and a sampling trainer at once: every acknowledged game exactly once."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import psycopg

from cartridge.replay import EmptyReplayError
from cartridge.replay.postgres import PostgresReplayStore
from tests.replay.workers import append_games

WRITERS, GAMES = 8, 30


def test_eight_writers_and_a_sampler(postgres_db_url: str, tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"actor-{i}.json" for i in range(WRITERS)]
    procs = [context.Process(target=append_games,
                             args=("postgres", postgres_db_url, f"actor-{i}", GAMES, str(out)))
             for i, out in enumerate(outs)]
    for proc in procs:
        proc.start()
    rng = np.random.default_rng(0)
    samples = 0
    with PostgresReplayStore(postgres_db_url) as trainer:
        while any(proc.is_alive() for proc in procs):
            try:
                batch = trainer.sample("connect4", 256, 2000, rng)
                assert batch.observations.shape == (256, 2, 6, 7)
                samples += 1
            except EmptyReplayError:
                pass
        for proc in procs:
            proc.join()
            assert proc.exitcode == 0
        stats = trainer.stats("connect4")
    acknowledged = [gid for out in outs for gid in json.loads(out.read_text())]
    assert len(acknowledged) == WRITERS * GAMES == len(set(acknowledged))
    with psycopg.connect(postgres_db_url) as conn:
        stored = dict(conn.execute(
            "SELECT g.game_id, count(p.seq) = g.num_positions FROM replay_games g"
            " JOIN replay_positions p USING (game_id) GROUP BY g.game_id, g.num_positions"
        ).fetchall())
        (positions,) = conn.execute("SELECT count(*) FROM replay_positions").fetchone()
    assert set(stored) == set(acknowledged) and all(stored.values())
    assert stats.games == len(acknowledged) and stats.positions == positions
    assert stats.total_positions == positions
    assert samples > 0
