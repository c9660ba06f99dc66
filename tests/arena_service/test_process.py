"""`python -m arena` as a real process: runs to idle, survives SIGKILL without losing or
repeating a match, waits for an unreachable database, refuses a bad setting by name,
and gates what actors following `best` play."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from arena.schedule import match_key, model_name, rating_opponents
from cartridge.arena.anchors import anchor_names
from cartridge.arena.openings import select_openings
from cartridge.journal import sqlite_journal
from tests.actor.helpers import read_games, read_status, wait_for
from tests.arena_service.helpers import (
    REPO,
    arena_environ,
    arena_settings,
    model_store,
    publish_versions,
)
from tests.ports import ReservedPort

pytestmark = pytest.mark.slow


def environ(data_dir: Path, **arena: object) -> dict[str, str]:
    return {**os.environ, **arena_environ(data_dir, **arena), "PYTHONUNBUFFERED": "1",
            "CARTRIDGE_CONFIG": str(REPO / "config.toml")}


def start_arena(data_dir: Path, *flags: str, **arena: object) -> subprocess.Popen:
    log = (data_dir / "arena.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "arena", *flags], env=environ(data_dir,
                            **arena), stdout=log, stderr=subprocess.STDOUT, cwd=data_dir)


def run_arena(data_dir: Path, *flags: str, **arena: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", *flags], env=environ(data_dir, **arena),
                          capture_output=True, text=True, timeout=300, cwd=data_dir)


def test_until_idle_rates_everything_and_cartridge_ratings_shows_it(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path)
    publish_versions(model_store(settings), 2)
    result = run_arena(tmp_path, "--until-idle", "--gate", "match")
    assert result.returncode == 0, result.stderr
    table = subprocess.run([sys.executable, "-m", "cartridge.cli.main", "ratings"],
                           env=environ(tmp_path), capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    lines = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
    assert set(lines) == {"random", "one-ply", "alphabeta-d3", "perfect", "v1", "v2"}
    assert " 200 " in lines["v2"] and "%" in lines["v2"]  # its step and benchmark
    best = model_store(settings).pointer("best")
    for name, line in lines.items():
        assert line.rstrip().endswith("*") == (best is not None and name == f"v{best}")


def test_a_bad_setting_stops_the_arena_at_start_naming_it(tmp_path: Path) -> None:
    result = run_arena(tmp_path, gate="sometimes")
    assert result.returncode == 2
    assert "arena.gate" in result.stderr and "sometimes" in result.stderr


def free_port() -> int:
    """A port for the arena to bind (its metrics): free now, used at once. A port that
    must stay unanswered for the whole test is held with ReservedPort instead."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            return answer.read().decode()
    except OSError:
        return ""


def test_sigkill_at_any_point_loses_and_repeats_no_match(tmp_path: Path) -> None:
    # Every opening (144 games a match): slow enough that the kill lands mid-run.
    slow = {"openings": 0, "num_simulations": 16}
    settings = arena_settings(tmp_path, **slow)
    publish_versions(model_store(settings), 3)
    journal_path = tmp_path / "journal.db"
    port = free_port()
    process = start_arena(tmp_path, metrics_port=port, **slow)
    try:
        def recorded() -> int:
            if not journal_path.exists():
                return 0
            with sqlite_journal(journal_path) as journal:
                return len(journal.match_keys("tictactoe"))

        alive = lambda: None if process.poll() is None else f"exit {process.returncode}"  # noqa: E731
        wait_for(lambda: recorded() >= 3, 120, "three recorded matches", alive)
        # [arena] metrics_port serves the arena's metrics while it runs.
        wait_for(lambda: 'cartridge_arena_matches_total{game="tictactoe",kind="rating"}'
                 in scrape(port), 30, "the metrics endpoint", alive)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with sqlite_journal(journal_path) as journal:
        before = len(journal.match_keys("tictactoe"))
    result = run_arena(tmp_path, "--until-idle", **slow)
    assert result.returncode == 0, result.stderr
    with sqlite_journal(journal_path) as journal:
        matches = journal.matches("tictactoe")
    assert len(matches) > before, "the kill came after the arena had finished"
    keys = [m.match_key for m in matches]
    openings = len(select_openings("tictactoe", 0))
    expected = {match_key("rating", model_name(v), opponent, settings.arena.num_simulations,
                          openings)
                for v in (1, 2, 3)
                for opponent in rating_opponents(v, [1, 2, 3], None, anchor_names("tictactoe"),
                                                 settings.arena.history_opponents)}
    assert len(keys) == len(set(keys)) and set(keys) == expected
    assert all(len(m.games) == 2 * openings for m in matches)


@pytest.mark.parametrize("what", ["journal", "model store"])
def test_an_unreachable_store_is_waited_for_then_sigterm_stops_cleanly(tmp_path, what) -> None:
    reserved = ReservedPort()  # held, never listening: no other run's server can take it
    port = reserved.port
    publish_versions(model_store(arena_settings(tmp_path)), 1)
    if what == "journal":
        env = {"CARTRIDGE_STORAGE_JOURNAL_BACKEND": "postgres",
               "CARTRIDGE_STORAGE_POSTGRES_URL": f"postgresql://arena@127.0.0.1:{port}/nowhere"}
    else:
        env = {"CARTRIDGE_STORAGE_MODEL_BACKEND": "s3",
               "CARTRIDGE_STORAGE_S3_ENDPOINT": f"127.0.0.1:{port}",
               "CARTRIDGE_STORAGE_S3_ACCESS_KEY": "arena", "CARTRIDGE_STORAGE_S3_SECRET_KEY": "x"}
    process = subprocess.Popen([sys.executable, "-m", "arena"], cwd=tmp_path,
                               env={**environ(tmp_path), **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        wait_for(lambda: (lines.append(process.stdout.readline()) or
                          sum("retrying in" in line for line in lines) >= 2), 90,
                 "two retries", lambda: None if process.poll() is None else "it exited")
        assert f"127.0.0.1:{port}" in "".join(lines)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reserved.release()


def test_actors_following_best_play_only_gated_models(tmp_path: Path) -> None:
    settings = arena_settings(tmp_path)
    store = model_store(settings)
    publish_versions(store, 2)  # latest = v2, no best yet
    actor_env = {**environ(tmp_path), "CARTRIDGE_ACTOR_MODEL_FOLLOW": "best",
                 "CARTRIDGE_ACTOR_RELOAD_INTERVAL": "0.1",
                 "CARTRIDGE_ACTOR_CONCURRENT_GAMES": "8",
                 "CARTRIDGE_MCTS_NUM_SIMULATIONS": "8",
                 "CARTRIDGE_SELFPLAY_TICTACTOE_NUM_SIMULATIONS": "8",
                 "CARTRIDGE_INFERENCE_INTRA_OP_THREADS": "1"}
    actor_log = (tmp_path / "actor.log").open("ab")
    actor = subprocess.Popen([sys.executable, "-m", "actor", "--actor-id", "a1"], cwd=tmp_path,
                             env=actor_env, stdout=actor_log, stderr=subprocess.STDOUT)
    alive = lambda: None if actor.poll() is None else f"actor exit {actor.returncode}"  # noqa: E731
    try:
        def status() -> dict:
            return read_status(tmp_path).get("a1", {})

        wait_for(lambda: status().get("games", 0) >= 8, 120, "uniform self-play", alive)
        assert status()["model_version"] == 0  # latest exists, but nothing is gated yet
        gate = run_arena(tmp_path, "--until-idle", gate="match", openings=0,
                         num_simulations=32)
        assert gate.returncode == 0, gate.stderr
        assert store.pointer("best") == 2, "the newest version should beat random"
        wait_for(lambda: status().get("model_version") == 2, 60, "the actor to load v2", alive)
        publish_versions(store, 1, first_seed=3)  # latest = v3, never gated
        played = status()["games"]
        wait_for(lambda: status().get("games", 0) >= played + 40, 120, "more games", alive)
        assert status()["model_version"] == 2
        actor.send_signal(signal.SIGTERM)
        assert actor.wait(60) == 0
    finally:
        if actor.poll() is None:
            actor.kill()
            actor.wait()
    versions = {v for game in read_games(tmp_path / "replay.db") for v in game.model_versions}
    assert versions == {0, 2}
