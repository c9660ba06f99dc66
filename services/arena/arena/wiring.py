"""Settings -> the arena's inputs: game, search, the model store and journal openers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from cartridge.config.settings import ArenaSettings, Settings
from cartridge.games import Game, get_game
from cartridge.journal import Journal, open_journal
from cartridge.mcts import SearchConfig
from cartridge.modelstore.base import ModelStore
from cartridge.modelstore.factory import open_model_store
from cartridge.threads import thread_count


@dataclass(frozen=True)
class ArenaInputs:
    game: Game
    arena: ArenaSettings
    search: SearchConfig  # [mcts] with [arena] num_simulations; no root noise in matches
    provider: str  # [inference] provider of the arena's ONNX Runtime sessions
    threads: int  # ONNX Runtime intra-op threads: [arena] threads, 0 = the CPU budget
    spinning: bool  # [inference] spinning ("auto": on, the arena owns its CPUs)
    open_store: Callable[[], ModelStore]
    open_journal: Callable[[], Journal]
    connect4_positions: Path | None  # labelled positions of the Connect Four benchmark


def arena_inputs(settings: Settings) -> ArenaInputs:
    search = replace(SearchConfig.from_settings(settings.mcts),
                     num_simulations=settings.arena.num_simulations)
    return ArenaInputs(
        game=get_game(settings.common.env_id),
        arena=settings.arena,
        search=search,
        provider=settings.inference.provider,
        threads=thread_count(settings.arena.threads, "[arena] threads",
                             "ONNX Runtime intra-op pool"),
        spinning=settings.inference.spinning != "off",
        open_store=lambda: open_model_store(settings),
        open_journal=lambda: open_journal(settings.storage, settings.common.data_dir),
        connect4_positions=(settings.data_path(Path(settings.arena.connect4_positions))
                            if settings.arena.connect4_positions else None),
    )
