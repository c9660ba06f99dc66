"""The journal's tables: one SQLAlchemy Core definition for SQLite and PostgreSQL.

Versioned: `journal_schema` holds the version the tables were created at.
`SCHEMA_VERSION` is this code's; a database at an older version is brought up
by the steps in `MIGRATIONS` (none yet: version 1 is the first), one at a
newer version is refused (an older service must not write to it).

Natural keys make writes idempotent: a match is unique by (env_id, match_key),
a rating by (env_id, player), a benchmark by (env_id, version, benchmark, mode),
a gate decision by (env_id, candidate, incumbent), a training row by
(env_id, step), a heartbeat by actor_id.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_VERSION = 1

metadata = MetaData()

journal_schema = Table(
    "journal_schema", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Float, nullable=False),
)

# -- arena ----------------------------------------------------------------------------

arena_matches = Table(
    "arena_matches", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("env_id", String(32), nullable=False),
    Column("match_key", String(200), nullable=False),  # chosen by the arena, e.g. "v5|random"
    Column("purpose", String(16), nullable=False),  # rating | gate
    Column("player_a", String(64), nullable=False),
    Column("player_b", String(64), nullable=False),
    Column("num_simulations", Integer, nullable=False),
    Column("games", Integer, nullable=False),
    Column("wins", Integer, nullable=False),  # player A's
    Column("draws", Integer, nullable=False),
    Column("losses", Integer, nullable=False),
    Column("played_at", Float, nullable=False),
    UniqueConstraint("env_id", "match_key", name="arena_matches_natural_key"),
)

arena_games = Table(
    "arena_games", metadata,
    Column("match_id", Integer, ForeignKey("arena_matches.id", ondelete="CASCADE"),
           primary_key=True),
    Column("game_index", Integer, primary_key=True, autoincrement=False),
    Column("opening", String(200), nullable=False),  # actions, comma-separated
    Column("seat_a", Integer, nullable=False),  # 0: A played the first player's side
    Column("score_a", Float, nullable=False),  # 1, 0.5, 0
    Column("plies", Integer, nullable=False),  # moves after the opening
)

arena_ratings = Table(
    "arena_ratings", metadata,
    Column("env_id", String(32), primary_key=True),
    Column("player", String(64), primary_key=True),  # "v12" or an anchor name
    Column("version", Integer, nullable=True),  # model version; NULL for anchors
    Column("step", Integer, nullable=True),  # its training step
    Column("elo", Float, nullable=False),
    Column("interval", Float, nullable=False),  # half-width of the 95% interval
    Column("games", Integer, nullable=False),
    Column("fitted_at", Float, nullable=False),
)

arena_benchmarks = Table(
    "arena_benchmarks", metadata,
    Column("env_id", String(32), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("benchmark", String(64), primary_key=True),  # e.g. tictactoe-perfect-play
    Column("mode", String(16), primary_key=True),  # network (policy argmax) | search
    Column("num_simulations", Integer, nullable=False),  # 0 for the network alone
    Column("score", Float, nullable=False),  # the headline figure (see `figures`)
    Column("figures", Text, nullable=False),  # JSON: every figure of the benchmark
    Column("recorded_at", Float, nullable=False),
)

arena_gate_decisions = Table(
    "arena_gate_decisions", metadata,
    Column("env_id", String(32), primary_key=True),
    Column("candidate", Integer, primary_key=True, autoincrement=False),
    Column("incumbent", String(64), primary_key=True),  # "v7", or "random" for the first
    Column("match_key", String(200), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("games", Integer, nullable=False),
    Column("score", Float, nullable=False),
    Column("p_value", Float, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON of the whole decision
    Column("decided_at", Float, nullable=False),
)

arena_promotions = Table(
    "arena_promotions", metadata,
    Column("env_id", String(32), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("previous_best", Integer, nullable=True),
    Column("promoted_at", Float, nullable=False),
)

# -- training and self-play (the web dashboard's history) ------------------------------

training_history = Table(
    "training_history", metadata,
    Column("env_id", String(32), primary_key=True),
    Column("step", Integer, primary_key=True, autoincrement=False),
    Column("total_loss", Float, nullable=False),
    Column("policy_loss", Float, nullable=False),
    Column("value_loss", Float, nullable=False),
    Column("learning_rate", Float, nullable=False),
    Column("samples_per_s", Float, nullable=False),
    Column("model_version", Integer, nullable=True),  # newest published at this step
    Column("replay_positions", Integer, nullable=False),  # held in the buffer
    Column("replay_games", Integer, nullable=False),
    Column("replay_added", Integer, nullable=False),  # ever added (its rate is the ingest)
    Column("ratio_wait_share", Float, nullable=False),  # time waiting for data since the last row
    Column("recorded_at", Float, nullable=False),
)

actor_heartbeats = Table(
    "actor_heartbeats", metadata,
    Column("actor_id", String(128), primary_key=True),
    Column("env_id", String(32), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("games", Integer, nullable=False),
    Column("positions", Integer, nullable=False),
    Column("positions_per_s", Float, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# version -> DDL statements that bring a database from version - 1 to version.
MIGRATIONS: dict[int, list[str]] = {}
