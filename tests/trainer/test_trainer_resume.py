"""Resuming picks the newest readable checkpoint; stats.json is replaced whole."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cartridge.config.settings import NetworkConfig
from cartridge.games import get_game
from cartridge.modelstore import layout
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.network import build_network, export_onnx
from trainer import checkpoint
from trainer.loop import _resume
from trainer.optimise import make_optimizer
from trainer.stats import TrainingStats, write_stats

NETWORK = NetworkConfig(kind="mlp", blocks=1, channels=8)


def publish_at(store: FilesystemModelStore, step: int) -> None:
    game = get_game("tictactoe")
    model = build_network(game, NETWORK)
    state = checkpoint.capture(step=step, env_id=game.id, network=NETWORK.model_dump(),
                               model=model, optimizer=make_optimizer(model, lr=1e-3,
                                                                     weight_decay=0.0),
                               sampler_rng=np.random.default_rng(step))
    store.publish(export_onnx(model, game, NETWORK, step=step), checkpoint.to_bytes(state),
                  step=step, network=NETWORK.model_dump())


def resume(store: FilesystemModelStore) -> tuple[int, int | None]:
    model = build_network(get_game("tictactoe"), NETWORK)
    return _resume(store, "tictactoe", NETWORK.model_dump(), model,
                   make_optimizer(model, lr=1e-3, weight_decay=0.0), np.random.default_rng())


def test_fresh_store_starts_at_zero(tmp_path: Path) -> None:
    assert resume(FilesystemModelStore(tmp_path, "tictactoe")) == (0, None)


def test_a_corrupt_newest_checkpoint_falls_back_to_the_one_before(tmp_path: Path) -> None:
    store = FilesystemModelStore(tmp_path, "tictactoe")
    publish_at(store, 100)
    publish_at(store, 200)
    assert resume(store) == (200, 2)
    newest = tmp_path / "tictactoe" / layout.version_name(2) / layout.CHECKPOINT_NAME
    newest.write_bytes(newest.read_bytes()[:-10] + b"0123456789")
    assert resume(store) == (100, 1)


def test_stats_are_replaced_whole_and_leave_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "stats.json"
    for step in (1, 2):
        write_stats(path, TrainingStats(
            env_id="tictactoe", step=step, total_steps=10, total_loss=1.5, policy_loss=1.0,
            value_loss=0.5, learning_rate=1e-3, samples_per_s=100.0, model_version=None,
            replay_positions=50, ratio_wait_share=0.0, ratio_wait_s=0.0,
            autocast="float32", timestamp=0.0))
    assert json.loads(path.read_text())["step"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["stats.json"]
