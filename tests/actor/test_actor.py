"""The actor with real stores (SQLite replay, filesystem models), in-process and as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from actor.identity import actor_id
from actor.loop import run_actor
from cartridge.modelstore.filesystem import FilesystemModelStore
from tests.actor.helpers import (
    REPO,
    config_opening_plies,
    publish,
    publish_corrupt_fs,
    read_games,
    read_status,
    tiny_onnx,
    wait_for,
    whole_game_problem,
)


@contextmanager
def in_background(settings, name: str = "actor-test"):
    """run_actor in a thread; yields (stop event, thread, result holder). The actor is
    stopped on the way out, also when the test fails, so no thread outlives its test."""
    stop = threading.Event()
    result: dict = {}

    def target() -> None:
        result["stats"] = run_actor(settings, name, stop)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield stop, thread, result
    finally:
        stop.set()
        thread.join(60)


def status(settings, name: str = "actor-test") -> dict:
    return read_status(settings.common.data_dir).get(name, {})


def test_plays_with_the_uniform_evaluator_before_any_model(settings_for) -> None:
    settings = settings_for(max_episodes=12)
    stats = run_actor(settings, "a1", threading.Event())
    games = read_games(settings.common.data_dir / "replay.db")
    assert stats.games == len(games) == 12
    assert all(set(g.model_versions) == {0} for g in games)
    opening = settings.selfplay.opening_plies("tictactoe")
    assert all(whole_game_problem(g, opening) is None for g in games)
    assert {g.actor_id for g in games} == {"a1"}


def test_playout_caps_write_only_the_fully_searched_positions(settings_for) -> None:
    # Every game from the empty board: its unrecorded moves are then the fast ones alone.
    settings = settings_for(max_episodes=12, seed=3,
                            selfplay={"full_search_fraction": 0.25, "fast_simulations": 4,
                                      "tictactoe": {"random_opening_plies": 0}})
    stats = run_actor(settings, "a1", threading.Event())
    games = read_games(settings.common.data_dir / "replay.db")
    assert games and stats.games == len(games) <= 12
    skipped = 0
    for stored in games:
        # Stones on the board: the moves played before each recorded position.
        plies = [int(observation.sum()) for observation in stored.observations]
        assert stored.num_positions >= 1
        assert plies == sorted(set(plies))  # positions of one game, in the order played
        skipped += plies[-1] + 1 - stored.num_positions  # moves up to the last, unrecorded
    assert skipped > sum(g.num_positions for g in games)  # most moves were fast


@pytest.mark.parametrize(("selfplay", "mixed"), [
    ({"search_value_weight": 0.5}, True),
    ({"tictactoe": {"search_value_weight": 0.5}}, True),  # the game's own key
    ({"search_value_weight": 0.5, "tictactoe": {"search_value_weight": 0.0}}, False),
])
def test_search_value_weight_mixes_root_values_into_the_stored_targets(
        settings_for, selfplay: dict, mixed: bool) -> None:
    settings = settings_for(max_episodes=12, seed=4, selfplay=selfplay)
    run_actor(settings, "a1", threading.Event())
    games = read_games(settings.common.data_dir / "replay.db")
    assert games
    targets = np.concatenate([g.outcomes for g in games])
    assert (np.abs(targets) <= 1).all()
    # Results alone are -1, 0 or 1; half a root value added moves most of them off.
    off_results = np.count_nonzero(~np.isin(targets, (-1.0, 0.0, 1.0)))
    assert off_results > len(games) if mixed else off_results == 0


def test_random_openings_start_the_stored_games_after_random_moves(settings_for) -> None:
    settings = settings_for(max_episodes=16, seed=5,
                            selfplay={"tictactoe": {"random_opening_plies": 4}})
    run_actor(settings, "a1", threading.Event())
    games = read_games(settings.common.data_dir / "replay.db")
    assert len(games) == 16
    # Stones on the first stored board: the random moves the game opened with, 0-4.
    first = {int(g.observations[0].sum()) for g in games}
    assert first <= set(range(5)) and len(first) > 1
    for stored in games:  # from there every move is stored, one stone each
        plies = [int(observation.sum()) for observation in stored.observations]
        assert plies == list(range(plies[0], plies[0] + stored.num_positions))


def test_hot_reloads_a_published_model_without_dropping_games(settings_for) -> None:
    settings = settings_for()
    store = FilesystemModelStore(settings.common.data_dir / "models", "tictactoe")
    db = settings.common.data_dir / "replay.db"
    with in_background(settings) as (stop, thread, _):
        wait_for(lambda: status(settings).get("games", 0) >= 10, 60, "games with no model")
        version = publish(store, tiny_onnx()).version
        wait_for(lambda: status(settings).get("model_version") == version, 60, "the reload")
        played = status(settings)["games"]
        wait_for(lambda: status(settings).get("games", 0) >= played + 16, 60, "games with v1")
        stop.set()
        thread.join(60)
        assert not thread.is_alive()

    games = read_games(db)
    versions = [set(g.model_versions) for g in games]
    assert {0} in versions and {version} in versions
    # Games in flight at the swap went on with the new model: both versions in one game,
    # the old one first.
    mixed = [g for g in games if set(g.model_versions) == {0, version}]
    assert mixed, "no game spans the reload: games in flight were dropped"
    assert all(g.model_versions == sorted(g.model_versions) for g in mixed)
    opening = settings.selfplay.opening_plies("tictactoe")
    assert all(whole_game_problem(g, opening) is None for g in games)


def test_a_restarted_actor_plays_the_existing_model_from_its_first_move(settings_for) -> None:
    settings = settings_for(max_episodes=8)
    store = FilesystemModelStore(settings.common.data_dir / "models", "tictactoe")
    version = publish(store, tiny_onnx()).version
    run_actor(settings, "a1", threading.Event())
    games = read_games(settings.common.data_dir / "replay.db")
    assert games and all(set(g.model_versions) == {version} for g in games)


def test_a_corrupt_model_under_a_valid_pointer_is_refused(settings_for, caplog) -> None:
    settings = settings_for()
    store = FilesystemModelStore(settings.common.data_dir / "models", "tictactoe")
    good = publish(store, tiny_onnx(seed=1)).version
    with in_background(settings) as (stop, thread, result):
        wait_for(lambda: status(settings).get("model_version") == good, 60, "the good model")
        bad = publish_corrupt_fs(store, tiny_onnx(seed=2))
        assert store.pointer("latest") == bad
        wait_for(lambda: bad in status(settings).get("refused_versions", []), 60,
                 "the corrupt version to be refused")
        played = status(settings)["games"]
        wait_for(lambda: status(settings).get("games", 0) > played, 60, "self-play to go on")
        stop.set()
        thread.join(60)
    assert result["stats"].model_version == good
    assert any(f"refusing model version {bad}" in r.getMessage() for r in caplog.records)
    versions = {v for g in read_games(settings.common.data_dir / "replay.db")
                for v in g.model_versions}
    assert bad not in versions


def start_actor(data_dir: Path, log: Path, *flags: str) -> subprocess.Popen[str]:
    """The actor as a process; its output goes to `log` (a pipe nobody reads while the
    test waits would block the actor once it filled, 64 KiB)."""
    with log.open("w") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "actor", "--config", str(REPO / "config.toml"),
             "--data-dir", str(data_dir), "--concurrent-games", "16", "--sims", "8", *flags],
            env={**os.environ, "CARTRIDGE_INFERENCE_INTRA_OP_THREADS": "1"},
            stdout=sink, stderr=subprocess.STDOUT, text=True,
        )


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_writes_no_partial_game(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "actor.log"
    process = start_actor(data, log, "--actor-id", "term")

    def dead() -> str | None:
        if process.poll() is None:
            return None
        return f"actor exited {process.returncode}:\n{log.read_text()[-3000:]}"

    try:
        wait_for(lambda: read_status(data).get("term", {}).get("games", 0) >= 20, 120,
                 "games", dead)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert process.returncode == 0, output
    assert "dropping" in output  # games were in flight and were not written
    final = read_status(data)["term"]
    games = read_games(data / "replay.db")
    assert final["state"] == "stopped"
    assert len(games) == final["games"] == final["games_stored"]
    problems = [p for g in games if (p := whole_game_problem(g, config_opening_plies()))]
    assert not problems, problems[:3]


@pytest.mark.slow
def test_actor_processes_get_unique_ids_and_never_import_torch(tmp_path: Path) -> None:
    data = tmp_path / "data"
    check = ("import runpy, sys; sys.argv = ['actor'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('actor', run_name='__main__')\n"
             "except SystemExit as e:\n    code = e.code\n"
             "leaked = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]\n"
             "print('TORCH', leaked)\nsys.exit(code)\n")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", check, "--config", str(REPO / "config.toml"),
             "--data-dir", str(data), "--max-episodes", "4", "--sims", "4"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert all("TORCH []" in out for out in outputs), outputs
    ids = {g.actor_id for g in read_games(data / "replay.db")}
    assert len(ids) == 2
    assert set(read_status(data)) == ids


def test_default_ids_are_unique_and_file_safe() -> None:
    ids = {actor_id() for _ in range(100)}
    assert len(ids) == 100
    assert actor_id("pod/7 x") == "pod-7-x"


def test_bad_config_is_one_line_naming_the_key_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "actor", "--config", str(REPO / "config.toml"),
         "--data-dir", str(tmp_path), "--concurrent-games", "0"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "actor.concurrent_games" in lines[0], result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "actor", "--config", str(REPO / "config.toml")],
        env={**os.environ, "CARTRIDGE_ACTOR_MODEL_FOLLOW": "newest"},
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "actor.model_follow" in result.stderr
