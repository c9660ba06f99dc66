"""Shared test fixtures. Each section belongs to one area; add yours in a section of its own."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator

import numpy as np
import psycopg
import pytest

from cartridge.games import Game

# ---------------------------------------------------------------------------------------
# Environment. Every test starts without the developer's CARTRIDGE_* variables (settings,
# CARTRIDGE_CONFIG), which would otherwise reach load_settings and the processes tests
# start. CARTRIDGE_TEST_* and CARTRIDGE_BENCH_* configure the tests themselves: kept.
# ---------------------------------------------------------------------------------------

_KEPT_PREFIXES = ("CARTRIDGE_TEST_", "CARTRIDGE_BENCH_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CARTRIDGE_") and not name.startswith(_KEPT_PREFIXES):
            monkeypatch.delenv(name)


# ---------------------------------------------------------------------------------------
# Logging. Commands run in-process (cartridge.cli.main.main) set the root logger's level
# from [common] log_level, and `cartridge run` quiets cartridge.inference.onnx: restored
# after each test, so one test's level does not decide what the next one logs.
# ---------------------------------------------------------------------------------------

_LOGGERS_SET_BY_COMMANDS = ("", "cartridge.inference.onnx")


@pytest.fixture(autouse=True)
def restore_log_levels() -> Iterator[None]:
    loggers = [logging.getLogger(name or None) for name in _LOGGERS_SET_BY_COMMANDS]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


# ---------------------------------------------------------------------------------------
# PostgreSQL (replay buffer). `postgres_url` is an admin URL (may CREATE DATABASE):
# CARTRIDGE_TEST_POSTGRES_URL if set, else the server on 127.0.0.1:5432 if it answers,
# else a throwaway server started with initdb + pg_ctl for this session.
# ---------------------------------------------------------------------------------------

_SHARED_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    from tests.replay.pgserver import answers, start_throwaway_server

    configured = os.environ.get("CARTRIDGE_TEST_POSTGRES_URL")
    if configured:
        yield configured
    elif answers(_SHARED_SERVER_URL):
        yield _SHARED_SERVER_URL
    else:
        server = start_throwaway_server()
        try:
            yield server.admin_url
        finally:
            server.destroy()


def create_database(admin_url: str) -> tuple[str, str]:
    """A fresh, uniquely named database; returns (its URL, its name)."""
    name = f"cartridge_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    params["dbname"] = name
    return psycopg.conninfo.make_conninfo(**params), name


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_db_url(postgres_url: str) -> Iterator[str]:
    """A fresh database per test, dropped afterwards."""
    url, name = create_database(postgres_url)
    try:
        yield url
    finally:
        drop_database(postgres_url, name)


# ---------------------------------------------------------------------------------------
# Positions reached by random play (network and inference tests).
# ---------------------------------------------------------------------------------------


def play_random_positions(
    game: Game, count: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`count` positions reached by random play: observations [B, C, H, W], masks [B, A]."""
    rng = np.random.default_rng(seed)
    observations, masks = [], []
    state = game.initial_state()
    while len(observations) < count:
        if game.is_terminal(state):
            state = game.initial_state()
        observations.append(game.encode(state))
        masks.append(game.legal_mask(state))
        state = game.apply(state, int(rng.choice(game.legal_actions(state))))
    return np.stack(observations).astype(np.float32), np.stack(masks)


@pytest.fixture
def random_positions() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    return play_random_positions
