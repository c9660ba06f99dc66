"""The PostgreSQL replay schema, owned by the code: created on first start, versioned.

`replay_schema` holds one row with the version applied. Each entry of MIGRATIONS
upgrades from the previous version; a database newer than this code is refused
at start with a clear error instead of failing later on a missing column.

Plain DDL rather than SQLAlchemy models: the hot paths are hand-written SQL
(data-modifying CTEs, sequences per env) that an ORM layer would only hide.
"""

from __future__ import annotations

import logging

import psycopg

log = logging.getLogger(__name__)

# MIGRATIONS[i] upgrades a database from version i to version i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE replay_envs (
        env_key           serial PRIMARY KEY,
        env_id            text NOT NULL UNIQUE,
        trim_floor        bigint NOT NULL DEFAULT 1,  -- lowest seq not yet trimmed
        trimmed_positions bigint NOT NULL DEFAULT 0,
        trimmed_games     bigint NOT NULL DEFAULT 0
    );
    -- Positions and games ever added, in shards so writers rarely share a row lock.
    CREATE TABLE replay_counters (
        env_key   integer NOT NULL,
        shard     integer NOT NULL,
        positions bigint NOT NULL,
        games     bigint NOT NULL,
        PRIMARY KEY (env_key, shard)
    );
    CREATE TABLE replay_games (
        game_id       text PRIMARY KEY,
        env_key       integer NOT NULL,
        actor_id      text NOT NULL,
        num_positions integer NOT NULL,
        first_seq     bigint NOT NULL,
        last_seq      bigint NOT NULL,
        created_at    double precision NOT NULL
    );
    CREATE INDEX replay_games_env_last_seq ON replay_games (env_key, last_seq);
    CREATE TABLE replay_positions (
        env_key       integer NOT NULL,
        seq           bigint NOT NULL,
        game_id       text NOT NULL,
        actor_id      text NOT NULL,
        model_version bigint NOT NULL,
        move_number   integer NOT NULL,
        created_at    double precision NOT NULL,
        outcome       real NOT NULL,
        observation   bytea NOT NULL,  -- bit-packed 0/1 planes
        legal_mask    bytea NOT NULL,  -- bit-packed
        policy        bytea NOT NULL,  -- float32 visit distribution
        PRIMARY KEY (env_key, seq)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaVersionError(RuntimeError):
    """The database was created by a newer version of the code."""


def migrate(conn: psycopg.Connection) -> int:
    """Create or upgrade the schema; returns the version. Safe with concurrent starters."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('cartridge_replay_schema'))")
        conn.execute("CREATE TABLE IF NOT EXISTS replay_schema (version integer NOT NULL)")
        row = conn.execute("SELECT version FROM replay_schema").fetchone()
        version = row[0] if row else 0
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"replay database schema is version {version}, newer than this code "
                f"understands ({SCHEMA_VERSION}); upgrade cartridge"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            log.info("replay schema: migrating to version %d", target)
            conn.execute(MIGRATIONS[target - 1])
        if row is None:
            conn.execute("INSERT INTO replay_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
        elif version < SCHEMA_VERSION:
            conn.execute("UPDATE replay_schema SET version = %s", (SCHEMA_VERSION,))
    return SCHEMA_VERSION
