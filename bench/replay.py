"""Replay buffer benchmarks: ingest with 8 concurrent writers, sampling from a 1M window.

Sections `replay_postgres` (run) and `replay_sqlite` (run_sqlite), same figures:
- ingest_positions_per_s: 8 writer processes appending synthetic connect4 games;
- sample_ms_p50 / sample_ms_p99: store.sample(batch 1024) from a window of 1,000,000;
- naive_sample_ms_p50: ORDER BY random() LIMIT 1024 over the same table, same run.
PostgreSQL: CARTRIDGE_BENCH_POSTGRES_URL (an admin URL that may CREATE DATABASE),
default postgresql://postgres@127.0.0.1:5432/postgres.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import multiprocessing
import os
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from cartridge.replay import GameRecord, ReplayStore
from cartridge.replay.codec import decode

log = logging.getLogger("bench.replay")
WRITERS = 8
INGEST_SECONDS = 15.0
TABLE_POSITIONS = 1_000_000
BATCH = 1024
SAMPLE_REPEATS = 200
NAIVE_REPEATS = 5


def synthetic_games(count: int, rng: np.random.Generator) -> list[GameRecord]:
    """Connect Four shaped games: 7..42 plies, 0/1 planes, normalised visit distributions."""
    games = []
    for _ in range(count):
        plies = int(rng.integers(7, 43))
        policies = rng.random((plies, 7)).astype(np.float32)
        games.append(GameRecord(
            game_id=uuid.uuid4().hex, env_id="connect4", actor_id=f"bench-{os.getpid()}",
            observations=(rng.random((plies, 2, 6, 7)) < 0.25).astype(np.float32),
            legal_masks=rng.random((plies, 7)) < 0.9,
            policies=policies / policies.sum(axis=1, keepdims=True),
            outcomes=rng.choice([-1.0, 0.0, 1.0], plies).astype(np.float32),
            model_versions=np.full(plies, 1, dtype=np.int64)))
    return games


def _open(backend: str, where: str) -> ReplayStore:
    if backend == "sqlite":
        from cartridge.replay.sqlite import SqliteReplayStore

        return SqliteReplayStore(where)
    from cartridge.replay.postgres import PostgresReplayStore

    return PostgresReplayStore(where, pool_size=1)


def _writer(backend: str, where: str, seed: int, start: Any, deadline: float, results: Any
            ) -> None:
    games = synthetic_games(200, np.random.default_rng(seed))
    store = _open(backend, where)
    start.wait()
    positions, began = 0, time.monotonic()
    for i in itertools.count():
        if time.monotonic() >= began + deadline:
            break
        game = dataclasses.replace(games[i % len(games)], game_id=uuid.uuid4().hex)
        store.append_game(game)
        positions += game.num_positions
    results.put((positions, time.monotonic() - began))
    store.close()


def measure_ingest(backend: str, where: str) -> float:
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    procs = [context.Process(target=_writer,
                             args=(backend, where, seed, start, INGEST_SECONDS, results))
             for seed in range(WRITERS)]
    for proc in procs:
        proc.start()
    time.sleep(8.0 if backend == "postgres" else 6.0)  # imports and game generation
    start.set()
    outcomes = [results.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join()
    positions = sum(p for p, _ in outcomes)
    return positions / max(elapsed for _, elapsed in outcomes)


def measure_sampling(store: ReplayStore, naive: Any) -> dict[str, float]:
    rng = np.random.default_rng(0)
    store.sample("connect4", BATCH, TABLE_POSITIONS, rng)  # warm the cache
    times = []
    for _ in range(SAMPLE_REPEATS):
        began = time.perf_counter()
        store.sample("connect4", BATCH, TABLE_POSITIONS, rng)
        times.append(time.perf_counter() - began)
    naive_times = []
    for _ in range(NAIVE_REPEATS):
        began = time.perf_counter()
        naive()
        naive_times.append(time.perf_counter() - began)
    ms = np.asarray(times) * 1000
    return {"sample_ms_p50": round(float(np.percentile(ms, 50)), 2),
            "sample_ms_p99": round(float(np.percentile(ms, 99)), 2),
            "naive_sample_ms_p50": round(float(np.median(naive_times)) * 1000, 1)}


def _blob_pool(rng: np.random.Generator) -> tuple[list[bytes], list[bytes], list[bytes]]:
    games = synthetic_games(40, rng)
    from cartridge.replay.codec import encode

    encoded = [encode(g) for g in games]
    return ([b for e in encoded for b in e.observations],
            [b for e in encoded for b in e.legal_masks],
            [b for e in encoded for b in e.policies])


# -- PostgreSQL ------------------------------------------------------------------------

def run() -> dict[str, Any]:
    admin = os.environ.get("CARTRIDGE_BENCH_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
    names = [f"cartridge_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    params = psycopg.conninfo.conninfo_to_dict(admin)
    urls = [psycopg.conninfo.make_conninfo(**{**params, "dbname": n}) for n in names]
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        _open("postgres", urls[0]).close()  # schema before the writers race
        ingest = measure_ingest("postgres", urls[0])
        log.info("postgres ingest: %.0f positions/s", ingest)
        figures = _postgres_sampling(urls[1])
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {"ingest_positions_per_s": round(ingest), "writers": WRITERS,
            "window_positions": TABLE_POSITIONS, "batch": BATCH, **figures}


def _postgres_sampling(url: str) -> dict[str, float]:
    from cartridge.replay.postgres import PostgresReplayStore

    rng = np.random.default_rng(1)
    store = PostgresReplayStore(url, pool_size=2)
    store.append_game(synthetic_games(1, rng)[0])  # creates the env and its sequence
    obs, masks, pols = _blob_pool(rng)
    began = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        (first,) = conn.execute("SELECT last_value FROM replay_seq_1").fetchone()
        # Server-side bulk build: generate_series over a pool of real encoded rows.
        conn.execute(
            "INSERT INTO replay_positions SELECT 1, g, 'bulk-' || (g / 24), 'bench', 1, g %% 24,"
            " extract(epoch FROM now()), (g %% 3) - 1, (%(o)s::bytea[])[1 + g %% %(n)s],"
            " (%(m)s::bytea[])[1 + g %% %(n)s], (%(p)s::bytea[])[1 + g %% %(n)s]"
            " FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g",
            {"o": obs, "m": masks, "p": pols, "n": len(obs), "lo": first + 1,
             "hi": TABLE_POSITIONS + first - 1}, binary=True)
        conn.execute("SELECT setval('replay_seq_1', %s)", (TABLE_POSITIONS + first - 1,))
        conn.execute("VACUUM ANALYZE replay_positions")
    log.info("postgres: built %d positions in %.1f s", TABLE_POSITIONS, time.monotonic() - began)

    def naive() -> None:
        with psycopg.connect(url) as conn:
            rows = conn.cursor(binary=True).execute(
                "SELECT observation, legal_mask, policy, outcome FROM replay_positions"
                " WHERE env_key = 1 ORDER BY random() LIMIT %s", (BATCH,)).fetchall()
        decode("connect4", *zip(*rows, strict=True))

    try:
        return measure_sampling(store, naive)
    finally:
        store.close()


# -- SQLite ----------------------------------------------------------------------------

def run_sqlite() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cartridge-bench-") as folder:
        path = Path(folder) / "ingest.db"
        _open("sqlite", str(path)).close()
        ingest = measure_ingest("sqlite", str(path))
        log.info("sqlite ingest: %.0f positions/s", ingest)
        figures = _sqlite_sampling(Path(folder) / "sample.db")
    return {"ingest_positions_per_s": round(ingest), "writers": WRITERS,
            "window_positions": TABLE_POSITIONS, "batch": BATCH, **figures}


def _sqlite_sampling(path: Path) -> dict[str, float]:
    from cartridge.replay.sqlite import SqliteReplayStore

    rng = np.random.default_rng(1)
    store = SqliteReplayStore(path)
    obs, masks, pols = _blob_pool(rng)
    began, now = time.monotonic(), time.time()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO replay_envs (env_id) VALUES ('connect4')")
        conn.executemany(
            "INSERT INTO replay_positions VALUES ('connect4', ?, ?, 'bench', 1, ?, ?, ?, ?, ?, ?)",
            ((g, f"bulk-{g // 24}", g % 24, now, float(g % 3 - 1), obs[g % len(obs)],
              masks[g % len(obs)], pols[g % len(obs)]) for g in range(1, TABLE_POSITIONS + 1)))
        conn.execute("UPDATE replay_envs SET max_seq = ?, total_positions = ?"
                     " WHERE env_id = 'connect4'", (TABLE_POSITIONS, TABLE_POSITIONS))
    log.info("sqlite: built %d positions in %.1f s", TABLE_POSITIONS, time.monotonic() - began)
    naive_conn = sqlite3.connect(path)

    def naive() -> None:
        rows = naive_conn.execute(
            "SELECT observation, legal_mask, policy, outcome FROM replay_positions"
            " WHERE env_id = 'connect4' ORDER BY random() LIMIT ?", (BATCH,)).fetchall()
        decode("connect4", *zip(*rows, strict=True))

    try:
        return measure_sampling(store, naive)
    finally:
        naive_conn.close()
        store.close()
