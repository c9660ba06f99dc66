"""The arena loop on real models, a real model store and a real SQLite journal."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from arena.schedule import parse_model_name
from cartridge.journal import open_journal
from cartridge.threads import cpu_budget
from tests.actor.helpers import publish_corrupt_fs
from tests.arena.helpers import late_positions
from tests.arena_service.helpers import (
    RecordingRest,
    arena_settings,
    make_arena,
    model_store,
    publish_versions,
)


def journal_of(settings):
    return open_journal(settings.storage, settings.common.data_dir)


def run_until_idle(settings, rest=None):
    arena = make_arena(settings, rest)
    arena.run(until_idle=True)
    return arena


def test_every_version_is_rated_newest_first_and_benchmarked(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path)
    publish_versions(model_store(settings), 3)
    run_until_idle(settings)
    with journal_of(settings) as journal:
        matches = journal.matches("tictactoe")
        rated = [parse_model_name(m.player_a) for m in matches]
        assert rated[0] == 3  # the newest first ...
        assert rated == sorted(rated, reverse=True)  # ... and the oldest last
        ratings = {r.player: r for r in journal.ratings("tictactoe")}
        assert set(ratings) == {"random", "one-ply", "alphabeta-d3", "perfect", "v1", "v2", "v3"}
        assert ratings["random"].elo == 0
        assert (ratings["v2"].version, ratings["v2"].step) == (2, 200)
        assert all(r.interval > 0 for name, r in ratings.items() if name != "random")
        benchmarks = {(b.version, b.mode) for b in journal.benchmarks("tictactoe")}
        assert benchmarks == {(v, m) for v in (1, 2, 3) for m in ("network", "search")}


def test_a_restarted_arena_plays_nothing_twice(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path)
    publish_versions(model_store(settings), 2)
    run_until_idle(settings)
    with journal_of(settings) as journal:
        before = journal.match_keys("tictactoe")
    again = make_arena(settings)
    assert again.step() is False
    publish_versions(model_store(settings), 1, first_seed=3)  # a new version: new work only
    run_until_idle(settings)
    with journal_of(settings) as journal:
        new = journal.match_keys("tictactoe") - before
        assert new and all("|v3|" in key for key in new)


def test_a_new_version_is_taken_up_before_older_work_is_finished(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path)
    store = model_store(settings)
    publish_versions(store, 2)
    arena = make_arena(settings)
    assert arena.step() and arena.step()  # v2's benchmark, then its first match
    publish_versions(store, 1, first_seed=3)
    assert arena.step() and arena.step()  # v3's benchmark and first match come next
    with journal_of(settings) as journal:
        assert [m.player_a for m in journal.matches("tictactoe")] == ["v2", "v3"]
        assert {b.version for b in journal.benchmarks("tictactoe")} == {2, 3}


def test_benchmarks_and_ratings_take_turns_while_versions_keep_arriving(
    tmp_path: Path,
) -> None:
    # A new version after every unit: neither kind of work may starve the other.
    settings = arena_settings(tmp_path)
    store = model_store(settings)
    arena = make_arena(settings)
    for seed in range(1, 7):
        publish_versions(store, 1, first_seed=seed)
        assert arena.step()
    with journal_of(settings) as journal:
        benchmarked = {b.version for b in journal.benchmarks("tictactoe")}
        rated = {m.player_a for m in journal.matches("tictactoe")}
    assert benchmarked == {1, 3, 5} and rated == {"v2", "v4", "v6"}


def test_a_corrupt_version_is_refused_and_the_rest_are_rated(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path)
    store = model_store(settings)
    publish_versions(store, 1)
    corrupt = publish_corrupt_fs(store, b"x" * 64)
    arena = run_until_idle(settings)
    assert arena.refused == {corrupt}
    with journal_of(settings) as journal:
        players = {m.player_a for m in journal.matches("tictactoe")}
        assert players == {"v1"}


@pytest.mark.parametrize("openings", [2, 5])
def test_openings_sets_the_games_per_match(tmp_path: Path, openings: int) -> None:
    settings = arena_settings(tmp_path, openings=openings)
    publish_versions(model_store(settings), 1)
    run_until_idle(settings)
    with journal_of(settings) as journal:
        assert {len(m.games) for m in journal.matches("tictactoe")} == {2 * openings}


def test_num_simulations_is_the_search_strength_of_matches_and_benchmark(tmp_path) -> None:
    settings = arena_settings(tmp_path, num_simulations=5)
    publish_versions(model_store(settings), 1)
    arena = run_until_idle(settings)
    assert arena.inputs.search.num_simulations == 5
    with journal_of(settings) as journal:
        assert {m.num_simulations for m in journal.matches("tictactoe")} == {5}
        modes = {b.mode: b.num_simulations for b in journal.benchmarks("tictactoe")}
        assert modes == {"network": 0, "search": 5}


@pytest.mark.parametrize("history", [0, 2])
def test_history_opponents_adds_spread_earlier_versions(tmp_path: Path, history: int) -> None:
    settings = arena_settings(tmp_path, history_opponents=history)
    publish_versions(model_store(settings), 5)
    arena = make_arena(settings)
    while arena.step():
        pass
    with journal_of(settings) as journal:
        opponents = {m.player_b for m in journal.matches("tictactoe") if m.player_a == "v5"}
    assert {o for o in opponents if o.startswith("v")} == (
        {"v4"} if history == 0 else {"v4", "v1", "v3"})


def test_gate_off_never_promotes(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path, gate="off")
    store = model_store(settings)
    publish_versions(store, 1)
    run_until_idle(settings)
    assert store.pointer("best") is None
    with journal_of(settings) as journal:
        assert journal.gate_decisions("tictactoe") == []
        assert all(m.purpose == "rating" for m in journal.matches("tictactoe"))


def test_gate_match_judges_the_newest_version_and_promotes_on_evidence(tmp_path) -> None:
    settings = arena_settings(tmp_path, gate="match", openings=0, num_simulations=32)
    store = model_store(settings)
    publish_versions(store, 1)
    arena = make_arena(settings)
    assert arena.step()  # the gate comes first: v1 against random
    with journal_of(settings) as journal:
        (decision,) = journal.gate_decisions("tictactoe")
        assert (decision.candidate, decision.incumbent) == (1, "random")
        assert decision.games == 144
        # Search with 32 simulations beats random convincingly even untrained.
        assert decision.passed and decision.p_value <= 0.05
        assert store.pointer("best") == 1
        assert [p.version for p in journal.promotions("tictactoe")] == [1]
    publish_versions(store, 1, first_seed=2)
    assert arena.step()  # v2 against the new best, v1
    with journal_of(settings) as journal:
        second = journal.gate_decisions("tictactoe")[-1]
        assert (second.candidate, second.incumbent) == (2, "v1")
        assert store.pointer("best") == (2 if second.passed else 1)


@pytest.mark.parametrize("confidence", [0.6, 0.999])
def test_gate_confidence_is_the_bar_of_the_test(tmp_path: Path, confidence: float) -> None:
    settings = arena_settings(tmp_path, gate="match", openings=8, gate_confidence=confidence)
    store = model_store(settings)
    publish_versions(store, 1)
    make_arena(settings).step()
    with journal_of(settings) as journal:
        (decision,) = journal.gate_decisions("tictactoe")
    evidence = decision.evidence
    assert evidence["confidence"] == confidence
    expected = (decision.p_value <= 1 - confidence
                and evidence["pairs_won"] > evidence["pairs_lost"])
    assert decision.passed == expected
    assert store.pointer("best") == (1 if expected else None)


def test_pause_after_work_and_poll_interval_when_idle(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path, pause=7.5, poll_interval=42.0)
    publish_versions(model_store(settings), 1)
    arena = make_arena(settings)
    arena.rest = rest = RecordingRest(arena.stop, limit=7)
    arena.run()
    with journal_of(settings) as journal:
        units = len(journal.matches("tictactoe")) + 1  # the anchors' matches, the benchmark
    assert units == 5
    assert rest.calls == [7.5] * units + [42.0, 42.0]


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_sets_the_onnx_runtime_threads(tmp_path: Path, threads: int) -> None:
    settings = arena_settings(tmp_path, threads=threads)
    publish_versions(model_store(settings), 1)
    evaluator = make_arena(settings)._evaluator(1)
    assert evaluator._session.get_session_options().intra_op_num_threads == threads


def test_threads_0_follows_the_cpu_budget_and_spinning_reaches_the_session(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cartridge.threads")
    settings = arena_settings(tmp_path, threads=0)
    settings = settings.model_copy(update={"inference": settings.inference.model_copy(
        update={"spinning": "off"})})
    publish_versions(model_store(settings), 1)
    options = make_arena(settings)._evaluator(1)._session.get_session_options()
    assert options.intra_op_num_threads == cpu_budget().cpus
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert "[arena] threads = 0:" in caplog.text


def test_a_gate_killed_between_its_steps_finishes_without_replaying(tmp_path: Path) -> None:
    # The states a SIGKILL can leave between the gate's three writes (match, decision,
    # promotion), made directly: the next step completes the gate from what is recorded.
    settings = arena_settings(tmp_path, gate="match", openings=0, num_simulations=32)
    store = model_store(settings)
    publish_versions(store, 1)
    arena = make_arena(settings)
    assert arena.step()
    with journal_of(settings) as journal:
        (decision,) = journal.gate_decisions("tictactoe")
        assert decision.passed
        with journal.engine.begin() as conn:  # killed after the match, before the decision
            conn.exec_driver_sql("DELETE FROM arena_gate_decisions")
            conn.exec_driver_sql("DELETE FROM arena_promotions")
    (store.game_dir / "best").unlink()
    assert make_arena(settings).step()
    with journal_of(settings) as journal:
        (again,) = journal.gate_decisions("tictactoe")
        assert replace(again, decided_at=0) == replace(decision, decided_at=0)
        assert len(journal.matches("tictactoe")) == 1  # decided from the record, not replayed
    assert store.pointer("best") == 1
    (store.game_dir / "best").unlink()  # killed after the decision, before the promotion
    assert make_arena(settings).step()
    assert store.pointer("best") == 1


def test_connect4_positions_benchmarks_each_version_by_stage(tmp_path: Path) -> None:
    positions = tmp_path / "bench" / "c4.jsonl"
    positions.parent.mkdir()
    positions.write_text("".join(json.dumps(r) + "\n" for r in late_positions(12, seed=5)))
    settings = arena_settings(tmp_path, "connect4", openings=1, num_simulations=4,
                              connect4_positions="bench/c4.jsonl")
    publish_versions(model_store(settings), 1)
    arena = run_until_idle(settings)
    assert len(arena.connect4_positions) == 12
    with journal_of(settings) as journal:
        rows = {b.mode: b for b in journal.benchmarks("connect4")}
    assert set(rows) == {"network", "search"}
    for row in rows.values():
        assert row.benchmark == "connect4-labelled-positions"
        assert row.figures["positions"] == 12
        assert row.score == pytest.approx(1 - row.figures["mistake_rate_all"])
        assert row.figures["mistake_rate_end"] == row.figures["mistake_rate_all"]


def test_without_connect4_positions_there_is_no_connect4_benchmark(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path, "connect4", openings=1, num_simulations=4)
    publish_versions(model_store(settings), 1)
    run_until_idle(settings)
    with journal_of(settings) as journal:
        assert journal.benchmarks("connect4") == []
        assert journal.matches("connect4")


def test_a_missing_connect4_positions_file_is_named_at_start(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path, "connect4", connect4_positions="nowhere.jsonl")
    with pytest.raises(ValueError, match=r"\[arena\] connect4_positions: .*nowhere.jsonl"):
        make_arena(settings)


def test_the_arena_runs_on_a_postgres_journal(tmp_path: Path, postgres_db_url: str) -> None:
    settings = arena_settings(tmp_path, gate="match", num_simulations=32, openings=0)
    settings = settings.model_copy(update={"storage": settings.storage.model_copy(update={
        "journal_backend": "postgres", "postgres_url": postgres_db_url})})
    store = model_store(settings)
    publish_versions(store, 2)
    run_until_idle(settings)
    assert not make_arena(settings).step()  # a restart finds nothing left to do
    with journal_of(settings) as journal:
        assert journal.engine.dialect.name == "postgresql"
        assert {r.player for r in journal.ratings("tictactoe")} >= {"random", "v1", "v2"}
        (decision,) = journal.gate_decisions("tictactoe")
        assert decision.candidate == 2
        assert store.pointer("best") == (2 if decision.passed else None)
    assert not (tmp_path / "journal.db").exists()


def test_the_connect4_solver_key_adds_the_perfect_anchor(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path, "connect4", connect4_solver=True)
    assert "perfect" in make_arena(settings).anchors
    assert "perfect" not in make_arena(arena_settings(tmp_path, "connect4")).anchors


def test_the_connect4_solver_key_without_bitbully_is_named_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # BitBully is installed here (a dev dependency): pretend it is not.
    monkeypatch.setattr("arena.loop.solver_installed", lambda: False)
    settings = arena_settings(tmp_path, "connect4", connect4_solver=True)
    with pytest.raises(ValueError, match=r"\[arena\] connect4_solver = true: pip install"):
        make_arena(settings)
