"""Open the replay store that [storage] names; the one place backends are chosen."""

from __future__ import annotations

from pathlib import Path

from cartridge.config.settings import ReplaySettings, StorageSettings
from cartridge.replay.base import ReplayStore
from cartridge.replay.writer import ReplayWriter


def open_replay_store(
    storage: StorageSettings, data_dir: Path, *, pool_size: int | None = None
) -> ReplayStore:
    """`data_dir` resolves a relative sqlite_path; `pool_size` overrides
    [storage] postgres_pool_size (an actor needs fewer connections than the trainer)."""
    if storage.replay_backend == "postgres":
        from cartridge.replay.postgres import PostgresReplayStore

        if not storage.postgres_url:
            raise ValueError("[storage] replay_backend = 'postgres' needs postgres_url "
                             "(or CARTRIDGE_STORAGE_POSTGRES_URL)")
        password = storage.postgres_password.get_secret_value() or None
        return PostgresReplayStore(storage.postgres_url, password=password,
                                   pool_size=pool_size or storage.postgres_pool_size)
    from cartridge.replay.sqlite import SqliteReplayStore

    path = storage.sqlite_path
    return SqliteReplayStore(path if path.is_absolute() else data_dir / path)


def open_replay_writer(store: ReplayStore, replay: ReplaySettings) -> ReplayWriter:
    """The actor's writer, its queue bounded by [replay] writer_queue_games."""
    return ReplayWriter(store, max_queue=replay.writer_queue_games)
