"""Settings -> the trainer's inputs: game, network shape, replay opener, model store,
retention, and the facts every published model carries."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cartridge.config.settings import Settings, default_config_path
from cartridge.games import get_game
from cartridge.journal import BestEffortJournal, open_journal
from cartridge.modelstore.factory import open_model_store
from cartridge.modelstore.retention import RetentionPolicy
from cartridge.replay.base import ReplayStore, ReplayUnavailableError
from cartridge.replay.factory import open_replay_store
from cartridge.runs.facts import current_facts, start_facts
from cartridge.runs.layout import RunDir
from cartridge.runs.resolved import settings_without_secrets
from trainer.loop import TrainerInputs

log = logging.getLogger(__name__)


def trainer_inputs(settings: Settings, config_path: Path | None = None) -> TrainerInputs:
    env_id = settings.common.env_id
    storage = settings.storage
    history = BestEffortJournal(lambda: open_journal(storage, settings.common.data_dir),
                                "training history")
    return TrainerInputs(
        game=get_game(env_id),
        network=settings.network.for_game(env_id),
        training=settings.training,
        replay=settings.replay,
        open_replay=lambda: open_replay(settings),
        replay_where=replay_where(settings),
        models=open_model_store(settings),
        stats_path=settings.data_path(settings.training.stats),
        publish_int8=settings.publishes_int8(env_id),
        retention=RetentionPolicy(keep_last=storage.model_keep_last,
                                  keep_every=storage.model_keep_every),
        run_facts=run_facts(settings, config_path or default_config_path()),
        history=history,
        protected_versions=lambda: {p.version for p in history.read(
            lambda journal: journal.promotions(env_id))},
    )


def run_facts(settings: Settings, config_path: Path) -> dict[str, Any]:
    """The run's facts for model metadata: the current start's from meta.json when a
    `cartridge run` supervisor recorded one in data_dir (its command line and start are
    the run's), else this trainer's own (a container); plus the resolved settings."""
    facts = current_facts(RunDir(settings.common.data_dir.resolve())) \
        or start_facts(settings, config_path.resolve())
    return {**facts, "settings": settings_without_secrets(settings)}


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
