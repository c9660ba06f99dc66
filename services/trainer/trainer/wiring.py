"""Settings -> the trainer's inputs: game, network shape, replay opener, model store."""

from __future__ import annotations

import logging

from cartridge.config.settings import Settings
from cartridge.games import get_game
from cartridge.modelstore.factory import open_model_store
from cartridge.replay.base import ReplayStore, ReplayUnavailableError
from cartridge.replay.factory import open_replay_store
from trainer.loop import TrainerInputs

log = logging.getLogger(__name__)


def trainer_inputs(settings: Settings) -> TrainerInputs:
    env_id = settings.common.env_id
    return TrainerInputs(
        game=get_game(env_id),
        network=settings.network.for_game(env_id),
        training=settings.training,
        replay=settings.replay,
        open_replay=lambda: open_replay(settings),
        replay_where=replay_where(settings),
        models=open_model_store(settings),
        stats_path=settings.data_path(settings.training.stats),
    )


def replay_where(settings: Settings) -> str:
    storage = settings.storage
    if storage.replay_backend == "sqlite":
        return str(settings.data_path(storage.sqlite_path))
    from cartridge.replay.postgres import describe_url

    return describe_url(storage.postgres_url)


def open_replay(settings: Settings) -> ReplayStore | None:
    """The replay store, or None while it does not exist yet (the trainer waits for
    actors to create it rather than creating an empty database at a mistyped path)."""
    storage = settings.storage
    if storage.replay_backend == "sqlite":
        if not settings.data_path(storage.sqlite_path).exists():
            return None
        return open_replay_store(storage, settings.common.data_dir)
    try:
        return open_replay_store(storage, settings.common.data_dir)
    except ReplayUnavailableError as err:  # a wrong password or database is not waited for
        log.warning("replay buffer not reachable yet: %s", err)
        return None
