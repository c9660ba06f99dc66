"""kill -9 the PostgreSQL server while actors write through ReplayWriter, restart it:
nothing acknowledged is lost and nothing is duplicated. Uses a throwaway server, never
the machine's shared one."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.replay.pgserver import ThrowawayServer, start_throwaway_server
from tests.replay.workers import write_through_writer

WRITERS, GAMES = 4, 150


@pytest.fixture
def server() -> Iterator[ThrowawayServer]:
    server = start_throwaway_server()
    try:
        yield server
    finally:
        server.destroy()


def _writers_going(url: str) -> int:
    """How many writers have stored a game (each opened its store while the server was up)."""
    with psycopg.connect(url, connect_timeout=2) as conn:
        return conn.execute("SELECT count(DISTINCT actor_id) FROM replay_games").fetchone()[0]


def test_server_crash_loses_and_duplicates_nothing(server: ThrowawayServer, tmp_path: Path
                                                   ) -> None:
    url = server.admin_url
    from cartridge.replay.postgres import PostgresReplayStore

    PostgresReplayStore(url, pool_size=1).close()  # schema before the writers start
    context = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"actor-{i}.json" for i in range(WRITERS)]
    procs = [context.Process(target=write_through_writer,
                             args=(url, f"actor-{i}", GAMES, str(out)))
             for i, out in enumerate(outs)]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + 120
    while _writers_going(url) < WRITERS:  # crash in the middle of every writer's work
        assert time.monotonic() < deadline, "writers never got going"
        time.sleep(0.05)
    server.kill9()
    time.sleep(1.5)  # writers queue, retry with backoff, then block on the full queue
    server.start()
    for proc in procs:
        proc.join(timeout=300)
        assert proc.exitcode == 0
    results = [json.loads(out.read_text()) for out in outs]
    assert all(result["flushed"] for result in results)
    assert sum(result["failed_attempts"] for result in results) > 0  # the crash was felt
    put = [gid for result in results for gid in result["put"]]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT g.game_id, count(p.seq), g.num_positions FROM replay_games g"
            " JOIN replay_positions p USING (game_id) GROUP BY g.game_id, g.num_positions"
        ).fetchall()
        (positions,) = conn.execute("SELECT count(*) FROM replay_positions").fetchone()
    assert sorted(row[0] for row in rows) == sorted(put)  # each put game exactly once
    assert all(count == expected for _, count, expected in rows)
    assert positions == sum(row[2] for row in rows)
