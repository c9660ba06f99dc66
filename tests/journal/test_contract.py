"""The journal contract: SQLite and PostgreSQL pass the same tests, on real databases."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cartridge.journal import (
    BenchmarkRow,
    GameRow,
    GateRow,
    Heartbeat,
    Journal,
    JournalError,
    MatchRecord,
    PromotionRow,
    RatingRow,
    TrainingRow,
    postgres_journal,
    sqlite_journal,
)
from cartridge.journal.schema import SCHEMA_VERSION

Opener = Callable[[], Journal]


@pytest.fixture(params=["sqlite", "postgres"])
def open_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens handles on one fresh database of the backend under test."""
    if request.param == "sqlite":
        def factory() -> Journal:
            return sqlite_journal(tmp_path / "journal.db")
    else:
        url = request.getfixturevalue("postgres_db_url")

        def factory() -> Journal:
            return postgres_journal(url)
    opened: list[Journal] = []

    def tracked() -> Journal:
        opened.append(factory())
        return opened[-1]

    yield tracked
    for journal in opened:
        journal.close()


@pytest.fixture
def journal(open_journal: Opener) -> Journal:
    return open_journal()


def match(key: str = "v2|random", a: str = "v2", b: str = "random",
          scores: tuple[float, ...] = (1.0, 0.5, 0.0, 1.0), env_id: str = "tictactoe",
          purpose: str = "rating") -> MatchRecord:
    games = tuple(GameRow((i // 2, 4), i % 2, score, 5 + i) for i, score in enumerate(scores))
    return MatchRecord(env_id=env_id, match_key=key, purpose=purpose, player_a=a, player_b=b,
                       num_simulations=16, games=games, played_at=1000.0)


def test_a_match_round_trips_with_all_its_games(journal: Journal) -> None:
    recorded = match()
    assert journal.record_match(recorded)
    (stored,) = journal.matches("tictactoe")
    assert stored == recorded
    assert (stored.wins, stored.draws, stored.losses) == (2, 1, 1)
    assert journal.match_keys("tictactoe") == {"v2|random"}
    assert journal.matches("connect4") == []
    journal.record_match(match("v3|random", "v3"))
    assert journal.matches("tictactoe", "v2|random") == [recorded]
    assert journal.matches("tictactoe", "v9|random") == []


def test_a_match_recorded_twice_is_recorded_once(open_journal: Opener) -> None:
    first, second = open_journal(), open_journal()  # two handles, as after a restart
    assert first.record_match(match())
    assert not second.record_match(match(scores=(0.0, 0.0)))
    (stored,) = first.matches("tictactoe")
    assert len(stored.games) == 4
    # The same key in another game is another match.
    assert second.record_match(match(env_id="connect4"))


def test_a_match_whose_games_fail_leaves_nothing(journal: Journal) -> None:
    bad = match(scores=(1.0, 0.5))
    broken = MatchRecord(**{**bad.__dict__, "games": (*bad.games, GameRow((0,), 0, None, 1))})
    with pytest.raises(JournalError):
        journal.record_match(broken)  # the third game violates NOT NULL
    assert journal.matches("tictactoe") == []
    assert journal.record_match(bad)  # the key is still free


def test_pair_totals_sum_every_match_per_ordered_pair(journal: Journal) -> None:
    journal.record_match(match("a", "v2", "random", (1.0, 1.0)))
    journal.record_match(match("b", "v2", "random", (0.5, 0.0)))
    journal.record_match(match("c", "v3", "v2", (1.0,)))
    totals = {(t.player_a, t.player_b): (t.games, t.score_a)
              for t in journal.pair_totals("tictactoe")}
    assert totals == {("v2", "random"): (4, 2.5), ("v3", "v2"): (1, 1.0)}


def test_ratings_are_replaced_by_the_newest_fit(journal: Journal) -> None:
    journal.replace_ratings("tictactoe", [
        RatingRow("random", None, None, 0.0, 0.0, 10, 5.0),
        RatingRow("v1", 1, 100, 120.5, 30.0, 10, 5.0)])
    journal.replace_ratings("tictactoe", [
        RatingRow("random", None, None, 0.0, 0.0, 20, 6.0),
        RatingRow("v2", 2, 200, 300.0, 25.0, 20, 6.0),
        RatingRow("v1", 1, 100, 150.0, 20.0, 20, 6.0)])
    journal.replace_ratings("connect4", [RatingRow("random", None, None, 0.0, 0.0, 1, 6.0)])
    assert [r.player for r in journal.ratings("tictactoe")] == ["v2", "v1", "random"]
    assert journal.ratings("tictactoe")[1] == RatingRow("v1", 1, 100, 150.0, 20.0, 20, 6.0)


def test_benchmarks_upsert_per_version_benchmark_and_mode(journal: Journal) -> None:
    row = BenchmarkRow("tictactoe", 3, "tictactoe-perfect-play", "search", 64, 0.9,
                       {"value_kept": 4068, "losses": 2}, 7.0)
    journal.record_benchmark(row)
    journal.record_benchmark(BenchmarkRow(**{**row.__dict__, "score": 0.95}))
    journal.record_benchmark(BenchmarkRow(**{**row.__dict__, "mode": "network",
                                             "num_simulations": 0}))
    stored = journal.benchmarks("tictactoe")
    assert [(b.mode, b.score) for b in stored] == [("network", 0.9), ("search", 0.95)]
    assert stored[1].figures == {"value_kept": 4068, "losses": 2}
    assert journal.benchmarked_versions("tictactoe", "tictactoe-perfect-play") == {3}


def test_gate_decisions_are_recorded_once_with_their_evidence(journal: Journal) -> None:
    decision = GateRow("tictactoe", 4, "v2", "gate|v4|v2", True, 144, 0.7, 0.001,
                       {"pairs_won": 30, "pairs_lost": 5}, 9.0)
    assert journal.record_gate_decision(decision)
    assert not journal.record_gate_decision(decision)
    assert journal.gate_decisions("tictactoe") == [decision]
    journal.record_promotion(PromotionRow("tictactoe", 4, 2, 9.5))
    journal.record_promotion(PromotionRow("tictactoe", 4, 2, 9.5))
    assert journal.promotions("tictactoe") == [PromotionRow("tictactoe", 4, 2, 9.5)]


def test_training_history_keeps_one_row_per_step(journal: Journal) -> None:
    for step in (100, 200):
        journal.record_training(TrainingRow("tictactoe", step, 2.0, 1.5, 0.5, 1e-3, 900.0,
                                            step // 100, 10 * step, step, 12 * step, 0.25,
                                            float(step)))
    replaced = TrainingRow("tictactoe", 200, 1.0, 0.8, 0.2, 1e-3, 950.0, 2, 2500, 250, 3000,
                           0.5, 300.0)
    journal.record_training(replaced)
    history = journal.training_history("tictactoe")
    assert [(r.step, r.total_loss) for r in history] == [(100, 2.0), (200, 1.0)]
    assert history[1] == replaced  # every field round-trips
    assert [r.step for r in journal.training_history("tictactoe", since_step=100)] == [200]


def test_heartbeats_keep_the_newest_per_actor(journal: Journal) -> None:
    journal.heartbeat(Heartbeat("a-1", "tictactoe", 1, 10, 90, 50.0, 1.0, 2.0))
    journal.heartbeat(Heartbeat("a-1", "tictactoe", 2, 20, 180, 55.0, 1.0, 3.0))
    journal.heartbeat(Heartbeat("a-2", "tictactoe", 2, 5, 45, 40.0, 1.0, 3.0))
    beats = journal.heartbeats("tictactoe")
    assert [(b.actor_id, b.model_version, b.updated_at) for b in beats] == [
        ("a-1", 2, 3.0), ("a-2", 2, 3.0)]


def test_the_schema_is_versioned_and_a_newer_one_is_refused(open_journal: Opener) -> None:
    journal = open_journal()
    assert journal.schema_version() == SCHEMA_VERSION
    assert open_journal().schema_version() == SCHEMA_VERSION  # reopening adds no row
    with journal.engine.begin() as conn:
        conn.execute(text("INSERT INTO journal_schema (version, applied_at) VALUES (:v, 0)"),
                     {"v": SCHEMA_VERSION + 1})
    with pytest.raises(JournalError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        open_journal()


def _record_in_child(opener: Opener, key: str) -> None:
    opener().record_match(match(key))


def test_concurrent_first_opens_and_writes_from_processes(open_journal: Opener) -> None:
    # Four processes create the schema and write at once (a stack starting up).
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_record_in_child, args=(open_journal, f"m{i % 2}"))
                for i in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert open_journal().match_keys("tictactoe") == {"m0", "m1"}
