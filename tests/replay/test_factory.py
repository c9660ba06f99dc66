"""Settings -> replay store and writer: backend choice, pool size, queue size, the password."""

from __future__ import annotations

import queue
from pathlib import Path

import numpy as np
import pytest

from cartridge.config.settings import SettingsError, load_settings
from cartridge.replay import open_replay_store, open_replay_writer
from cartridge.replay.postgres import PostgresReplayStore
from cartridge.replay.sqlite import SqliteReplayStore
from tests.replay.helpers import make_game
from tests.replay.test_writer import FlakyStore

CONFIG = Path(__file__).parents[2] / "config.toml"


def test_sqlite_is_the_default_under_data_dir(tmp_path: Path) -> None:
    settings = load_settings(CONFIG, environ={"CARTRIDGE_COMMON_DATA_DIR": str(tmp_path)})
    with open_replay_store(settings.storage, settings.common.data_dir) as store:
        assert isinstance(store, SqliteReplayStore)
        assert store.path == tmp_path / "replay.db"


def test_postgres_backend_and_pool_size_come_from_settings(postgres_db_url: str) -> None:
    settings = load_settings(CONFIG, environ={
        "CARTRIDGE_STORAGE_REPLAY_BACKEND": "postgres",
        "CARTRIDGE_STORAGE_POSTGRES_URL": postgres_db_url,
        "CARTRIDGE_STORAGE_POSTGRES_POOL_SIZE": "3",
    })
    with open_replay_store(settings.storage, settings.common.data_dir) as store:
        assert isinstance(store, PostgresReplayStore) and store.pool_size == 3
        store.append_game(make_game("connect4", 2, np.random.default_rng(0)))
        assert store.stats("connect4").positions == 2


def test_postgres_password_is_environment_only(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.read_text().replace(
        'postgres_url = ""', 'postgres_url = ""\npostgres_password = "hunter2"'))
    with pytest.raises(SettingsError, match=r"postgres_password.*PGPASSWORD"):
        load_settings(config, environ={})
    settings = load_settings(CONFIG, environ={"CARTRIDGE_STORAGE_POSTGRES_PASSWORD": "hunter2"})
    assert settings.storage.postgres_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)


def test_writer_queue_size_comes_from_settings() -> None:
    settings = load_settings(CONFIG, environ={"CARTRIDGE_REPLAY_WRITER_QUEUE_GAMES": "1"})
    store = FlakyStore()
    store.down.set()
    writer = open_replay_writer(store, settings.replay)
    rng = np.random.default_rng(0)
    writer.put(make_game("tictactoe", 2, rng))  # taken by the thread
    writer.put(make_game("tictactoe", 2, rng), timeout=5)  # fills the queue of one
    with pytest.raises(queue.Full):
        writer.put(make_game("tictactoe", 2, rng), timeout=0.3)
    store.down.clear()
    assert writer.close(timeout=10)
