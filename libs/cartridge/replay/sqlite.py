"""SQLite replay buffer: the embedded default, shared by actor processes and the trainer.

WAL mode lets the trainer read while an actor writes; writers take the write lock
up front (BEGIN IMMEDIATE) and wait for it (busy timeout, then retries with
backoff) rather than failing with "database is locked". Sequence numbers and
counters live in one row per env, updated in the append transaction: SQLite has
one writer at a time anyway, so the row costs no concurrency.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from cartridge.replay.base import (
    EmptyReplayError,
    GameRecord,
    ReplayStats,
    ReplayStore,
    SampledBatch,
)
from cartridge.replay.codec import decode, encode
from cartridge.replay.observe import StoreMetrics
from cartridge.replay.sampling import sample_rows

log = logging.getLogger(__name__)
T = TypeVar("T")
SCHEMA_VERSION = 1
_TRIM_BATCH = 20_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replay_envs (
    env_id            TEXT PRIMARY KEY,
    max_seq           INTEGER NOT NULL DEFAULT 0,
    trim_floor        INTEGER NOT NULL DEFAULT 1,
    total_positions   INTEGER NOT NULL DEFAULT 0,
    total_games       INTEGER NOT NULL DEFAULT 0,
    trimmed_positions INTEGER NOT NULL DEFAULT 0,
    trimmed_games     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS replay_games (
    game_id       TEXT PRIMARY KEY,
    env_id        TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    num_positions INTEGER NOT NULL,
    first_seq     INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL,
    created_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS replay_games_env_last_seq ON replay_games (env_id, last_seq);
CREATE TABLE IF NOT EXISTS replay_positions (
    env_id        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    game_id       TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    model_version INTEGER NOT NULL,
    move_number   INTEGER NOT NULL,
    created_at    REAL NOT NULL,
    outcome       REAL NOT NULL,
    observation   BLOB NOT NULL,
    legal_mask    BLOB NOT NULL,
    policy        BLOB NOT NULL,
    PRIMARY KEY (env_id, seq)
) WITHOUT ROWID;
"""


class SqliteReplayStore(ReplayStore):
    """`busy_timeout`: seconds SQLite itself waits for a lock; `locked_wait`: seconds
    more this store keeps retrying a locked database before giving up."""

    def __init__(self, path: Path | str, *, busy_timeout: float = 10.0,
                 locked_wait: float = 120.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._locked_wait = locked_wait
        self._lock = threading.Lock()  # one connection, shared by this process's threads
        self.metrics = StoreMetrics()
        self._conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                     check_same_thread=False)
        self._retrying(self._setup)
        log.info("replay buffer: SQLite %s", self.path)

    def _setup(self) -> None:
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a process crash; only power loss may
        # lose the last transactions, an acceptable trade for the embedded default.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"replay database {self.path} has schema version {version}, newer than "
                f"this code understands ({SCHEMA_VERSION}); upgrade cartridge"
            )
        if version < SCHEMA_VERSION:
            self._conn.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    # -- writes -----------------------------------------------------------------------

    def append_game(self, game: GameRecord) -> bool:
        rows = encode(game)
        created = game.created_at or time.time()
        inserted = self._retrying(lambda: self._append(game, rows, created))
        if inserted:
            self.metrics.record_append(game.num_positions)
        return inserted

    def _append(self, game: GameRecord, rows: Any, created: float) -> bool:
        count = game.num_positions
        with self._transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO replay_envs (env_id) VALUES (?)", (game.env_id,))
            (max_seq,) = conn.execute("SELECT max_seq FROM replay_envs WHERE env_id = ?",
                                      (game.env_id,)).fetchone()
            first = max_seq + 1
            cursor = conn.execute(
                "INSERT OR IGNORE INTO replay_games VALUES (?, ?, ?, ?, ?, ?, ?)",
                (game.game_id, game.env_id, game.actor_id, count, first, max_seq + count, created))
            if cursor.rowcount == 0:
                return False  # already stored: a retried game is a no-op
            conn.executemany(
                "INSERT INTO replay_positions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(game.env_id, first + i, game.game_id, game.actor_id, rows.model_versions[i],
                  i, created, rows.outcomes[i], rows.observations[i], rows.legal_masks[i],
                  rows.policies[i]) for i in range(count)])
            conn.execute(
                "UPDATE replay_envs SET max_seq = max_seq + ?, total_positions = total_positions"
                " + ?, total_games = total_games + 1 WHERE env_id = ?",
                (count, count, game.env_id))
        return True

    # -- reads ------------------------------------------------------------------------

    def sample(
        self, env_id: str, batch_size: int, window: int, rng: np.random.Generator
    ) -> SampledBatch:
        started = time.perf_counter()
        rows = self._retrying(lambda: self._sample_rows(env_id, batch_size, window, rng))
        obs, masks, pols, outcomes = zip(*rows, strict=True)
        batch = decode(env_id, obs, masks, pols, outcomes)
        self.metrics.record_sample(time.perf_counter() - started)
        return batch

    def _sample_rows(
        self, env_id: str, batch_size: int, window: int, rng: np.random.Generator
    ) -> list[Any]:
        with self._lock:
            row = self._conn.execute("SELECT max_seq, trim_floor FROM replay_envs"
                                     " WHERE env_id = ?", (env_id,)).fetchone()
            if row is None:
                raise EmptyReplayError(f"no positions stored for {env_id!r}")
            hi, floor = row

            def fetch(seqs: np.ndarray) -> dict[int, Any]:
                cursor = self._conn.execute(
                    "SELECT seq, observation, legal_mask, policy, outcome FROM replay_positions"
                    " WHERE env_id = ? AND seq IN (SELECT value FROM json_each(?))",
                    (env_id, json.dumps(seqs.tolist())))
                return {r[0]: r[1:] for r in cursor}

            def existing(lo: int, hi: int) -> np.ndarray:
                cursor = self._conn.execute(
                    "SELECT seq FROM replay_positions WHERE env_id = ? AND seq BETWEEN ? AND ?",
                    (env_id, lo, hi))
                return np.array([r[0] for r in cursor], dtype=np.int64)

            # One read transaction: the rows seen are a consistent snapshot.
            self._conn.execute("BEGIN")
            try:
                return sample_rows(fetch, existing, max(hi - window + 1, floor, 1), hi,
                                   batch_size, rng, env_id)
            finally:
                self._conn.execute("COMMIT")

    def stats(self, env_id: str) -> ReplayStats:
        return self._retrying(lambda: self._stats(env_id))

    def _stats(self, env_id: str) -> ReplayStats:
        with self._lock:
            row = self._conn.execute(
                "SELECT total_positions, total_games, trimmed_positions, trimmed_games, trim_floor"
                " FROM replay_envs WHERE env_id = ?", (env_id,)).fetchone()
            if row is None:
                return ReplayStats(0, 0, 0, extra=self.metrics.extra(0))
            total, games, trimmed, trimmed_games, floor = row
            oldest = self._conn.execute(
                "SELECT created_at FROM replay_positions WHERE env_id = ? AND seq >= ?"
                " ORDER BY seq LIMIT 1", (env_id, floor)).fetchone()
            newest = self._conn.execute(
                "SELECT created_at FROM replay_positions WHERE env_id = ?"
                " ORDER BY seq DESC LIMIT 1", (env_id,)).fetchone()
        return ReplayStats(
            positions=total - trimmed, games=games - trimmed_games, total_positions=total,
            oldest_created_at=oldest[0] if oldest else None,
            newest_created_at=newest[0] if newest else None,
            extra=self.metrics.extra(total),
        )

    # -- trimming ---------------------------------------------------------------------

    def trim(self, env_id: str, capacity: int) -> int:
        """Delete in batches, one short write transaction each, so actors keep writing."""
        removed = 0
        while True:
            gone = self._retrying(lambda: self._trim_batch(env_id, capacity))
            if gone is None:
                return removed
            removed += gone

    def _trim_batch(self, env_id: str, capacity: int) -> int | None:
        with self._transaction() as conn:
            row = conn.execute("SELECT max_seq, trim_floor FROM replay_envs WHERE env_id = ?",
                               (env_id,)).fetchone()
            if row is None or row[0] - capacity + 1 <= row[1]:
                return None
            start, end = row[1], min(row[1] + _TRIM_BATCH, row[0] - capacity + 1)
            gone = conn.execute("DELETE FROM replay_positions WHERE env_id = ? AND seq >= ?"
                                " AND seq < ?", (env_id, start, end)).rowcount
            games_gone = conn.execute("DELETE FROM replay_games WHERE env_id = ?"
                                      " AND last_seq < ?", (env_id, end)).rowcount
            conn.execute("UPDATE replay_envs SET trim_floor = ?, trimmed_positions ="
                         " trimmed_positions + ?, trimmed_games = trimmed_games + ?"
                         " WHERE env_id = ?", (end, gone, games_gone, env_id))
        return gone

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- helpers ----------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn, self._lock)

    def _retrying(self, operation: Callable[[], T]) -> T:
        """Run `operation`, waiting out "database is locked" for up to locked_wait seconds."""
        deadline = time.monotonic() + self._locked_wait
        delay = 0.05
        while True:
            try:
                return operation()
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) and "busy" not in str(err):
                    raise
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("replay database %s is locked; retrying in %.2f s", self.path, delay)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) under the connection's lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                try:
                    self._conn.execute("COMMIT")
                    return
                except sqlite3.Error:
                    self._conn.execute("ROLLBACK")  # leave no open transaction for a retry
                    raise
            self._conn.execute("ROLLBACK")
        finally:
            self._lock.release()
