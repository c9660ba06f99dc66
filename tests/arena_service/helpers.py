"""Helpers for the arena service tests: settings on a temporary data_dir, real models."""

from __future__ import annotations

import threading
from pathlib import Path

from arena.loop import Arena
from arena.wiring import arena_inputs
from cartridge.config.settings import Settings, load_settings
from cartridge.modelstore.filesystem import FilesystemModelStore
from tests.actor.helpers import publish, tiny_onnx

REPO = Path(__file__).resolve().parents[2]
# Small and fast: 4 openings (8 games a match), 8 simulations, no rest.
FAST = {"openings": 4, "num_simulations": 8, "pause": 0, "poll_interval": 0.1}


def arena_environ(data_dir: Path, env_id: str = "tictactoe", **arena: object) -> dict[str, str]:
    keys = {**FAST, **arena}
    environ = {f"CARTRIDGE_ARENA_{k.upper()}": str(v) for k, v in keys.items()}
    return {**environ, "CARTRIDGE_COMMON_DATA_DIR": str(data_dir),
            "CARTRIDGE_COMMON_ENV_ID": env_id}


def arena_settings(data_dir: Path, env_id: str = "tictactoe", **arena: object) -> Settings:
    return load_settings(REPO / "config.toml", environ=arena_environ(data_dir, env_id, **arena))


def model_store(settings: Settings) -> FilesystemModelStore:
    return FilesystemModelStore(settings.data_path(settings.storage.model_dir),
                                settings.common.env_id)


def publish_versions(store: FilesystemModelStore, count: int, first_seed: int = 1) -> None:
    for seed in range(first_seed, first_seed + count):
        publish(store, tiny_onnx(store.env_id, seed), step=100 * seed)


class RecordingRest:
    """The arena's rest between units of work, recorded instead of slept; with `stop`,
    it stops the arena at its `limit`-th call."""

    def __init__(self, stop: threading.Event | None = None, limit: int = 0) -> None:
        self.calls: list[float] = []
        self.stop, self.limit = stop, limit

    def __call__(self, seconds: float) -> bool:
        self.calls.append(seconds)
        if self.stop is not None and len(self.calls) >= self.limit:
            self.stop.set()
        return self.stop is not None and self.stop.is_set()


def make_arena(settings: Settings, rest: RecordingRest | None = None) -> Arena:
    return Arena(arena_inputs(settings), threading.Event(), rest=rest or RecordingRest())
