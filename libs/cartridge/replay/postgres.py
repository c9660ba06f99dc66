"""PostgreSQL replay buffer: many actors write, the trainer samples (psycopg 3 + a pool).

Write path: one statement per game (data-modifying CTEs, autocommit), so a game is
one round trip and one transaction. The game row is inserted `ON CONFLICT DO NOTHING`
and the positions are inserted only when it was new: a retried game is a no-op.
Sequence numbers come from a PostgreSQL sequence per env (no row lock held across
writers' commits; a retried or failed game leaves a gap that sampling re-draws).
Counters live in sharded rows (each store instance updates its own random shard),
so stats are exact and cheap without serialising writers on one row.

Durability: autocommit with synchronous_commit=on (forced per connection), so an
acknowledged game survives a server crash or restart.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from cartridge.replay.base import (
    EmptyReplayError,
    GameRecord,
    ReplayConnectionError,  # re-exported: the errors of opening this store
    ReplayStats,
    ReplayStore,
    ReplayUnavailableError,
    SampledBatch,
)
from cartridge.replay.codec import decode, encode
from cartridge.replay.observe import StoreMetrics
from cartridge.replay.postgres_schema import migrate
from cartridge.replay.sampling import sample_rows

log = logging.getLogger(__name__)
T = TypeVar("T")
_COUNTER_SHARDS = 64
_TRIM_BATCH = 20_000


# Server answers that mean "try again later": starting up, shutting down or in
# recovery (57P03), or out of connection slots (53300).
_TRANSIENT_FATALS = ("the database system is", "too many clients", "too many connections")


def _unreachable(err: psycopg.Error) -> bool:
    """True when the server was not reached or asked us to come back later; False for
    answers that retrying cannot change (password, missing database, permission).
    A failed connect carries no SQLSTATE, only libpq's text, in which every server
    answer is a FATAL line."""
    if err.sqlstate is not None:
        return err.sqlstate in ("57P03", "53300")
    text = str(err)
    return "FATAL:" not in text or any(marker in text for marker in _TRANSIENT_FATALS)


_APPEND = """
WITH s AS MATERIALIZED (
    SELECT nextval({seq}::regclass) AS seq, ord FROM generate_series(1, %(n)s::int) AS ord
), g AS (
    INSERT INTO replay_games
        (game_id, env_key, actor_id, num_positions, first_seq, last_seq, created_at)
    SELECT %(game_id)s, %(env_key)s, %(actor_id)s, %(n)s, min(seq), max(seq), %(created_at)s
    FROM s
    ON CONFLICT (game_id) DO NOTHING
    RETURNING game_id
), p AS (
    INSERT INTO replay_positions (env_key, seq, game_id, actor_id, model_version, move_number,
                                  created_at, outcome, observation, legal_mask, policy)
    SELECT %(env_key)s, s.seq, g.game_id, %(actor_id)s, d.model_version, s.ord - 1,
           %(created_at)s, d.outcome, d.observation, d.legal_mask, d.policy
    FROM g CROSS JOIN s
    JOIN unnest(%(obs)s::bytea[], %(mask)s::bytea[], %(pol)s::bytea[], %(outcome)s::real[],
                %(mv)s::bigint[])
         WITH ORDINALITY AS d(observation, legal_mask, policy, outcome, model_version, ord)
      ON d.ord = s.ord
), c AS (
    INSERT INTO replay_counters (env_key, shard, positions, games)
    SELECT %(env_key)s, %(shard)s, %(n)s, 1 FROM g
    ON CONFLICT (env_key, shard) DO UPDATE
       SET positions = replay_counters.positions + EXCLUDED.positions,
           games = replay_counters.games + 1
)
SELECT count(*) FROM g
"""


def describe_url(url: str) -> str:
    """'database "x" on host:port as user "u"' — never the password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "a malformed postgres_url (not shown: it may hold a password)"
    host = params.get("host") or params.get("hostaddr") or "localhost (socket)"
    port = params.get("port") or "5432"
    database = params.get("dbname") or params.get("user") or "(default)"
    user = params.get("user") or "(default)"
    return f"database {database!r} on {host}:{port} as user {user!r}"


def _scrub(message: str, password: str | None) -> str:
    return message.replace(password, "***") if password else message


class PostgresReplayStore(ReplayStore):
    """`url`: a libpq URL without password; the password comes from `password` or PGPASSWORD.

    `pool_size`: connections kept by this process (a small pool per actor, more for the
    trainer). `retry_for`: seconds sample() and stats() keep retrying while the server
    is unreachable (the trainer waits instead of crashing); append_game() never retries
    by itself: ReplayWriter does, with backoff.
    """

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
        retry_for: float = 60.0,
    ) -> None:
        self._where = describe_url(url)
        self._password = password
        self._retry_for = retry_for
        self._shard = random.randrange(_COUNTER_SHARDS)
        self._env_keys: dict[str, tuple[int, str]] = {}
        self.metrics = StoreMetrics()
        kwargs: dict[str, Any] = {"autocommit": True,
                                  "connect_timeout": max(1, int(connect_timeout))}
        if password:
            kwargs["password"] = password
        try:
            with psycopg.connect(url, **kwargs) as conn:
                migrate(conn)
        except psycopg.Error as err:
            kind = ReplayUnavailableError if _unreachable(err) else ReplayConnectionError
            raise kind(
                f"cannot open the PostgreSQL replay buffer ({self._where}): "
                f"{_scrub(str(err).strip(), password)}"
            ) from None
        self._pool = ConnectionPool(
            url, min_size=1, max_size=pool_size, kwargs=kwargs, configure=_configure,
            open=False, name="replay", timeout=connect_timeout + 5,
        )
        self._pool.open(wait=True, timeout=connect_timeout + 5)
        log.info("replay buffer: PostgreSQL %s, pool of %d", self._where, pool_size)

    @property
    def pool_size(self) -> int:
        return self._pool.max_size

    # -- writes -----------------------------------------------------------------------

    def append_game(self, game: GameRecord) -> bool:
        rows = encode(game)
        env_key, seq_name = self._env_key(game.env_id, create=True)
        query = sql.SQL(_APPEND).format(seq=sql.Literal(seq_name))
        params = {
            "n": game.num_positions, "game_id": game.game_id, "env_key": env_key,
            "actor_id": game.actor_id, "created_at": game.created_at or time.time(),
            "obs": rows.observations, "mask": rows.legal_masks, "pol": rows.policies,
            "outcome": rows.outcomes, "mv": rows.model_versions, "shard": self._shard,
        }
        with self._pool.connection() as conn:
            inserted = conn.execute(query, params, binary=True).fetchone()[0] == 1
        if inserted:
            self.metrics.record_append(game.num_positions)
        return inserted

    # -- reads ------------------------------------------------------------------------

    def sample(
        self, env_id: str, batch_size: int, window: int, rng: np.random.Generator
    ) -> SampledBatch:
        started = time.perf_counter()
        batch = self._retrying(lambda: self._sample_once(env_id, batch_size, window, rng))
        self.metrics.record_sample(time.perf_counter() - started)
        return batch

    def _sample_once(
        self, env_id: str, batch_size: int, window: int, rng: np.random.Generator
    ) -> SampledBatch:
        key = self._env_key(env_id, create=False)
        if key is None:
            raise EmptyReplayError(f"no positions stored for {env_id!r}")
        env_key, seq_name = key
        with self._pool.connection() as conn:
            hi, floor = _seq_bounds(conn, env_key, seq_name)
            lo = max(hi - window + 1, floor, 1)
            cursor = conn.cursor(binary=True)

            def fetch(seqs: np.ndarray) -> dict[int, Any]:
                cursor.execute(
                    "SELECT seq, observation, legal_mask, policy, outcome FROM replay_positions"
                    " WHERE env_key = %s AND seq = ANY(%s::bigint[])",
                    (env_key, seqs.tolist()),
                )
                return {row[0]: row[1:] for row in cursor.fetchall()}

            def existing(lo: int, hi: int) -> np.ndarray:
                cursor.execute(
                    "SELECT seq FROM replay_positions WHERE env_key = %s AND seq BETWEEN %s AND %s",
                    (env_key, lo, hi),
                )
                return np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)

            rows = sample_rows(fetch, existing, lo, hi, batch_size, rng, env_id)
        obs, masks, pols, outcomes = zip(*rows, strict=True)
        return decode(env_id, obs, masks, pols, outcomes)

    def stats(self, env_id: str) -> ReplayStats:
        return self._retrying(lambda: self._stats_once(env_id))

    def _stats_once(self, env_id: str) -> ReplayStats:
        key = self._env_key(env_id, create=False)
        if key is None:
            return ReplayStats(positions=0, games=0, total_positions=0,
                               extra=self.metrics.extra(0))
        env_key, _ = key
        with self._pool.connection() as conn:
            added, games, trimmed, trimmed_games, floor = conn.execute(
                "SELECT coalesce(sum(c.positions), 0), coalesce(sum(c.games), 0),"
                " e.trimmed_positions, e.trimmed_games, e.trim_floor"
                " FROM replay_envs e LEFT JOIN replay_counters c USING (env_key)"
                " WHERE e.env_key = %s GROUP BY e.env_key", (env_key,),
            ).fetchone()
            oldest = conn.execute(
                "SELECT created_at FROM replay_positions WHERE env_key = %s AND seq >= %s"
                " ORDER BY seq LIMIT 1", (env_key, floor),
            ).fetchone()
            newest = conn.execute(
                "SELECT created_at FROM replay_positions WHERE env_key = %s"
                " ORDER BY seq DESC LIMIT 1", (env_key,),
            ).fetchone()
        return ReplayStats(
            positions=int(added - trimmed), games=int(games - trimmed_games),
            total_positions=int(added),
            oldest_created_at=oldest[0] if oldest else None,
            newest_created_at=newest[0] if newest else None,
            extra=self.metrics.extra(int(added)),
        )

    # -- trimming ---------------------------------------------------------------------

    def trim(self, env_id: str, capacity: int) -> int:
        """Delete in batches of _TRIM_BATCH sequence numbers, one short transaction each,
        so writers and the sampler are never blocked for long."""
        key = self._env_key(env_id, create=False)
        if key is None:
            return 0
        env_key, seq_name = key
        removed = 0
        with self._pool.connection() as conn:
            hi, floor = _seq_bounds(conn, env_key, seq_name)
            new_floor = hi - capacity + 1
            for start in range(floor, new_floor, _TRIM_BATCH):
                end = min(start + _TRIM_BATCH, new_floor)
                with conn.transaction():
                    gone = conn.execute(
                        "DELETE FROM replay_positions WHERE env_key = %s AND seq >= %s"
                        " AND seq < %s", (env_key, start, end)).rowcount
                    games_gone = conn.execute(
                        "DELETE FROM replay_games WHERE env_key = %s AND last_seq < %s",
                        (env_key, end)).rowcount
                    conn.execute(
                        "UPDATE replay_envs SET trim_floor = %s,"
                        " trimmed_positions = trimmed_positions + %s,"
                        " trimmed_games = trimmed_games + %s WHERE env_key = %s",
                        (end, gone, games_gone, env_key))
                removed += gone
        return removed

    def close(self) -> None:
        self._pool.close()

    # -- helpers ----------------------------------------------------------------------

    def _env_key(self, env_id: str, *, create: bool) -> Any:
        if env_id in self._env_keys:
            return self._env_keys[env_id]
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT env_key FROM replay_envs WHERE env_id = %s", (env_id,)).fetchone()
            if row is None:
                if not create:
                    return None
                with conn.transaction():
                    # Serialise env creation: CREATE SEQUENCE races otherwise.
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext('replay_envs'))")
                    conn.execute("INSERT INTO replay_envs (env_id) VALUES (%s)"
                                 " ON CONFLICT (env_id) DO NOTHING", (env_id,))
                    row = conn.execute("SELECT env_key FROM replay_envs WHERE env_id = %s",
                                       (env_id,)).fetchone()
                    conn.execute(sql.SQL("CREATE SEQUENCE IF NOT EXISTS {}").format(
                        sql.Identifier(f"replay_seq_{row[0]}")))
        value = (row[0], f"replay_seq_{row[0]}")
        self._env_keys[env_id] = value
        return value

    def _retrying(self, operation: Callable[[], T]) -> T:
        deadline = time.monotonic() + self._retry_for
        delay = 0.1
        while True:
            try:
                return operation()
            except (psycopg.OperationalError, psycopg.InterfaceError) as err:
                if time.monotonic() + delay > deadline:
                    raise ReplayUnavailableError(
                        f"PostgreSQL replay buffer unreachable for {self._retry_for:.0f} s "
                        f"({self._where}): {_scrub(str(err).strip(), self._password)}"
                    ) from None
                log.warning("replay database unreachable (%s); retrying in %.1f s",
                            _scrub(str(err).strip(), self._password), delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)


def _seq_bounds(conn: psycopg.Connection, env_key: int, seq_name: str) -> tuple[int, int]:
    """(highest sequence number handed out, trim floor) of one game id: the newest
    position and where the oldest kept one may start, without touching the table."""
    return conn.execute(
        sql.SQL("SELECT s.last_value * s.is_called::int, e.trim_floor "
                "FROM {seq} s, replay_envs e WHERE e.env_key = %s").format(
            seq=sql.Identifier(seq_name)),
        (env_key,),
    ).fetchone()


def _configure(conn: psycopg.Connection) -> None:
    # Acknowledged means durable, whatever the server's default.
    conn.execute("SET synchronous_commit TO on")
