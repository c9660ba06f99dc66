"""`Journal`: the project's one SQL store, on SQLite (embedded) or PostgreSQL (stack).

Every write is one transaction: a match and all its games land together or not
at all, so a process killed at any point leaves either the whole match or
nothing. Writes are idempotent on the tables' natural keys (schema.py): a
match recorded twice is recorded once; ratings, benchmarks, training rows and
heartbeats are replaced in place.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from cartridge.journal import schema
from cartridge.journal.records import (
    BenchmarkRow,
    GameRow,
    GateRow,
    Heartbeat,
    MatchRecord,
    PairTotals,
    PromotionRow,
    RatingRow,
    TrainingRow,
)
from cartridge.journal.schema import (
    actor_heartbeats,
    arena_benchmarks,
    arena_games,
    arena_gate_decisions,
    arena_matches,
    arena_promotions,
    arena_ratings,
    training_history,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class JournalError(RuntimeError):
    """The journal cannot be used as configured (schema too new, bad database); the
    message names the database, never a password."""


class JournalUnavailableError(JournalError):
    """The database cannot be reached right now: retry later."""


class Journal:
    def __init__(self, engine: Engine, where: str) -> None:
        """`where` names the database in messages (a path, or host/database/user)."""
        self.engine = engine
        self.where = where
        self._guard(self._create_schema)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------

    def _create_schema(self) -> None:
        with self.engine.begin() as conn:
            # Concurrent first starts (two services creating the tables) are serialised:
            # one takes the lock, the others wait and find the schema made.
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7261001)")
            else:
                # SQLite's default deferred transaction reads before it locks, so two
                # processes could both see no schema version and both insert one.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            schema.metadata.create_all(conn, checkfirst=True)
            self._check_version(conn)

    def _check_version(self, conn: Any) -> None:
        table = schema.journal_schema
        found = conn.execute(select(func.max(table.c.version))).scalar()
        if found is None:
            conn.execute(table.insert().values(version=schema.SCHEMA_VERSION,
                                               applied_at=time.time()))
            return
        if found > schema.SCHEMA_VERSION:
            raise JournalError(
                f"journal {self.where} has schema version {found}, newer than this "
                f"program's {schema.SCHEMA_VERSION}: upgrade the program")
        for version in range(found + 1, schema.SCHEMA_VERSION + 1):
            for statement in schema.MIGRATIONS[version]:
                conn.exec_driver_sql(statement)
            conn.execute(table.insert().values(version=version, applied_at=time.time()))
            log.info("journal %s migrated to schema version %d", self.where, version)

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(schema.journal_schema.c.version))).scalar()

    # -- matches ----------------------------------------------------------------------

    def record_match(self, match: MatchRecord) -> bool:
        """Write the match and all its games atomically; False if its key was recorded."""
        if not match.games:
            raise ValueError(f"match {match.match_key}: no games")
        values = dict(
            env_id=match.env_id, match_key=match.match_key, purpose=match.purpose,
            player_a=match.player_a, player_b=match.player_b,
            num_simulations=match.num_simulations, games=len(match.games),
            wins=match.wins, draws=match.draws, losses=match.losses,
            played_at=match.played_at)

        def write() -> bool:
            with self.engine.begin() as conn:
                statement = (self._insert(arena_matches).values(**values)
                             .on_conflict_do_nothing().returning(arena_matches.c.id))
                match_id = conn.execute(statement).scalar()
                if match_id is None:
                    return False
                conn.execute(arena_games.insert(), [
                    dict(match_id=match_id, game_index=i,
                         opening=",".join(str(a) for a in game.opening),
                         seat_a=game.seat_a, score_a=game.score_a, plies=game.plies)
                    for i, game in enumerate(match.games)])
                return True

        return self._guard(write)

    def match_keys(self, env_id: str) -> set[str]:
        query = select(arena_matches.c.match_key).where(arena_matches.c.env_id == env_id)
        return self._guard(lambda: set(self._scalars(query)))

    def matches(self, env_id: str, match_key: str | None = None) -> list[MatchRecord]:
        """Every match of a game (or the one with `match_key`) with its games, oldest first."""
        wanted = arena_matches.c.env_id == env_id
        if match_key is not None:
            wanted = wanted & (arena_matches.c.match_key == match_key)

        def read() -> list[MatchRecord]:
            with self.engine.connect() as conn:
                rows = conn.execute(select(arena_matches).where(wanted)
                                    .order_by(arena_matches.c.id)).mappings().all()
                games = conn.execute(
                    select(arena_games).join(arena_matches).where(wanted)
                    .order_by(arena_games.c.match_id, arena_games.c.game_index)
                ).mappings().all()
            by_match: dict[int, list[GameRow]] = {}
            for g in games:
                opening = tuple(int(a) for a in g["opening"].split(",") if a)
                by_match.setdefault(g["match_id"], []).append(
                    GameRow(opening, g["seat_a"], g["score_a"], g["plies"]))
            return [MatchRecord(env_id=r["env_id"], match_key=r["match_key"],
                                purpose=r["purpose"], player_a=r["player_a"],
                                player_b=r["player_b"], num_simulations=r["num_simulations"],
                                games=tuple(by_match.get(r["id"], [])),
                                played_at=r["played_at"]) for r in rows]

        return self._guard(read)

    def pair_totals(self, env_id: str) -> list[PairTotals]:
        """Games and scores summed per (player_a, player_b): what a rating fit needs."""
        m = arena_matches.c
        query = (select(m.player_a, m.player_b, func.sum(m.games),
                        func.sum(m.wins) + 0.5 * func.sum(m.draws))
                 .where(m.env_id == env_id).group_by(m.player_a, m.player_b)
                 .order_by(m.player_a, m.player_b))

        def read() -> list[PairTotals]:
            with self.engine.connect() as conn:
                return [PairTotals(a, b, int(n), float(s)) for a, b, n, s in conn.execute(query)]

        return self._guard(read)

    # -- ratings ----------------------------------------------------------------------

    def replace_ratings(self, env_id: str, ratings: Iterable[RatingRow]) -> None:
        """The newest fit replaces the previous one, in one transaction."""
        rows = [dict(env_id=env_id, player=r.player, version=r.version, step=r.step,
                     elo=r.elo, interval=r.interval, games=r.games,
                     fitted_at=r.fitted_at or time.time()) for r in ratings]

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(arena_ratings.delete().where(arena_ratings.c.env_id == env_id))
                if rows:
                    conn.execute(arena_ratings.insert(), rows)

        self._guard(write)

    def ratings(self, env_id: str) -> list[RatingRow]:
        """Best first."""
        r = arena_ratings.c
        query = (select(r.player, r.version, r.step, r.elo, r.interval, r.games, r.fitted_at)
                 .where(r.env_id == env_id).order_by(r.elo.desc(), r.player))
        return self._guard(lambda: [RatingRow(*row) for row in self._rows(query)])

    # -- benchmarks -------------------------------------------------------------------

    def record_benchmark(self, row: BenchmarkRow) -> None:
        values = dict(env_id=row.env_id, version=row.version, benchmark=row.benchmark,
                      mode=row.mode, num_simulations=row.num_simulations, score=row.score,
                      figures=json.dumps(row.figures, sort_keys=True),
                      recorded_at=row.recorded_at or time.time())
        self._upsert(arena_benchmarks, values, ["env_id", "version", "benchmark", "mode"])

    def benchmarks(self, env_id: str) -> list[BenchmarkRow]:
        b = arena_benchmarks.c
        query = (select(b.env_id, b.version, b.benchmark, b.mode, b.num_simulations, b.score,
                        b.figures, b.recorded_at)
                 .where(b.env_id == env_id).order_by(b.version, b.benchmark, b.mode))
        return self._guard(lambda: [
            BenchmarkRow(e, v, name, mode, sims, score, json.loads(figures), at)
            for e, v, name, mode, sims, score, figures, at in self._rows(query)])

    def benchmarked_versions(self, env_id: str, benchmark: str) -> set[int]:
        b = arena_benchmarks.c
        query = select(b.version).where(b.env_id == env_id, b.benchmark == benchmark)
        return self._guard(lambda: set(self._scalars(query)))

    # -- gating -----------------------------------------------------------------------

    def record_gate_decision(self, row: GateRow) -> bool:
        """False if this candidate was already judged against this incumbent."""
        values = dict(env_id=row.env_id, candidate=row.candidate, incumbent=row.incumbent,
                      match_key=row.match_key, passed=row.passed, games=row.games,
                      score=row.score, p_value=row.p_value,
                      evidence=json.dumps(row.evidence, sort_keys=True),
                      decided_at=row.decided_at)

        def write() -> bool:
            with self.engine.begin() as conn:
                statement = (self._insert(arena_gate_decisions).values(**values)
                             .on_conflict_do_nothing()
                             .returning(arena_gate_decisions.c.candidate))
                return conn.execute(statement).scalar() is not None

        return self._guard(write)

    def gate_decisions(self, env_id: str) -> list[GateRow]:
        g = arena_gate_decisions.c
        query = (select(g.env_id, g.candidate, g.incumbent, g.match_key, g.passed, g.games,
                        g.score, g.p_value, g.evidence, g.decided_at)
                 .where(g.env_id == env_id).order_by(g.decided_at, g.candidate))
        return self._guard(lambda: [
            GateRow(*row[:8], evidence=json.loads(row[8]), decided_at=row[9])
            for row in self._rows(query)])

    def record_promotion(self, row: PromotionRow) -> None:
        values = dict(env_id=row.env_id, version=row.version, previous_best=row.previous_best,
                      promoted_at=row.promoted_at)
        self._upsert(arena_promotions, values, ["env_id", "version"])

    def promotions(self, env_id: str) -> list[PromotionRow]:
        p = arena_promotions.c
        query = (select(p.env_id, p.version, p.previous_best, p.promoted_at)
                 .where(p.env_id == env_id).order_by(p.version))
        return self._guard(lambda: [PromotionRow(*row) for row in self._rows(query)])

    # -- training history and heartbeats (the web dashboard) --------------------------

    def record_training(self, row: TrainingRow) -> None:
        """One row per step; a step recorded again (a resumed trainer) is replaced."""
        values = {c.name: getattr(row, c.name) for c in training_history.columns}
        self._upsert(training_history, values, ["env_id", "step"])

    def training_history(self, env_id: str, since_step: int = -1) -> list[TrainingRow]:
        t = training_history.c
        query = (select(training_history)
                 .where(t.env_id == env_id, t.step > since_step).order_by(t.step))
        return self._guard(lambda: [TrainingRow(*row) for row in self._rows(query)])

    def heartbeat(self, beat: Heartbeat) -> None:
        values = {c.name: getattr(beat, c.name) for c in actor_heartbeats.columns}
        self._upsert(actor_heartbeats, values, ["actor_id"])

    def heartbeats(self, env_id: str) -> list[Heartbeat]:
        h = actor_heartbeats.c
        query = (select(actor_heartbeats)
                 .where(h.env_id == env_id).order_by(h.actor_id))
        return self._guard(lambda: [Heartbeat(*row) for row in self._rows(query)])

    # -- helpers ----------------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT, which has ON CONFLICT on both backends."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def _upsert(self, table: Any, values: dict[str, Any], key: list[str]) -> None:
        statement = self._insert(table).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=key,
            set_={name: statement.excluded[name] for name in values if name not in key})

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(statement)

        self._guard(write)

    def _rows(self, query: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def _scalars(self, query: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def _guard(self, operation: Callable[[], T]) -> T:
        """Database errors become JournalUnavailableError / JournalError naming the
        database (the DBAPI message, which never holds the password we pass apart)."""
        try:
            return operation()
        except DBAPIError as err:
            kind = JournalUnavailableError if err.connection_invalidated or _unreachable(err) \
                else JournalError
            raise kind(f"journal {self.where}: {str(err.orig).strip()}") from None
        except SQLAlchemyError as err:
            raise JournalError(f"journal {self.where}: {err}") from None


def _unreachable(err: DBAPIError) -> bool:
    """Connection-level failures (server down, network, a busy SQLite file): worth retrying."""
    text = str(err.orig).lower()
    return isinstance(err, OperationalError) and any(
        hint in text for hint in ("connection", "could not connect", "timeout", "server closed",
                                  "database is locked"))
