"""An actor started while its PostgreSQL replay database is down waits for it; wrong
settings are not waited for."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import psycopg
import pytest

from actor.loop import run_actor
from cartridge.config import load_settings
from cartridge.replay.base import ReplayConnectionError, ReplayUnavailableError
from tests.actor.helpers import REPO
from tests.replay.pgserver import start_throwaway_server

FAST = {"concurrent_games": 4, "max_episodes": 4, "reload_interval": 0.2}


def postgres_settings(tmp_path: Path, url: str):
    return load_settings(REPO / "config.toml", {
        "common": {"data_dir": tmp_path / "data"},
        "actor": FAST,
        "mcts": {"num_simulations": 8},
        "selfplay": {"tictactoe": {"num_simulations": 8}},
        "storage": {"replay_backend": "postgres", "postgres_url": url},
    }, environ={})


def test_actor_waits_for_an_unreachable_database_then_plays(tmp_path, caplog) -> None:
    server = start_throwaway_server()
    stop = threading.Event()
    thread = None
    try:
        server.stop()  # the database is down (its port refusing) when the actor starts
        url = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        result: dict = {}
        thread = threading.Thread(
            target=lambda: result.update(stats=run_actor(
                postgres_settings(tmp_path, url), "outage-actor", stop)),
            daemon=True)
        with caplog.at_level(logging.WARNING, logger="actor.loop"):
            thread.start()
            deadline = time.monotonic() + 60
            while "replay buffer unreachable" not in caplog.text:
                assert thread.is_alive(), "the actor gave up instead of waiting"
                assert time.monotonic() < deadline, "the actor never reported the outage"
                time.sleep(0.1)
        server.start()
        thread.join(timeout=180)
        assert not thread.is_alive()
        assert result["stats"].games == 4
        with psycopg.connect(url) as conn:
            (games,) = conn.execute("SELECT count(*) FROM replay_games").fetchone()
        assert games == 4
    finally:
        stop.set()  # a failed test leaves no actor thread behind
        if thread is not None:
            thread.join(60)
        server.destroy()


def test_a_missing_database_is_an_error_at_once(tmp_path, postgres_url) -> None:
    params = psycopg.conninfo.conninfo_to_dict(postgres_url)
    params["dbname"] = "cartridge_actor_no_such_db"
    settings = postgres_settings(tmp_path, psycopg.conninfo.make_conninfo(**params))
    started = time.monotonic()
    with pytest.raises(ReplayConnectionError) as error:
        run_actor(settings, "bad-actor", threading.Event())
    assert not isinstance(error.value, ReplayUnavailableError)
    assert "cartridge_actor_no_such_db" in str(error.value)
    assert time.monotonic() - started < 30
