"""The trainer publishes an int8 model beside the fp32 one ([training] publish_int8, or
the game's actors play int8), calibrated on the observations it trained on last."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from cartridge.games import get_game
from cartridge.inference import OnnxEvaluator
from cartridge.modelstore import MissingArtifactError
from cartridge.modelstore.filesystem import FilesystemModelStore
from tests.conftest import play_random_positions
from tests.trainer.helpers import fill_replay, write_config
from trainer.calibration import RecentObservations
from trainer.cli import load
from trainer.loop import train
from trainer.wiring import trainer_inputs

pytestmark = pytest.mark.usefixtures("clean_env")

ENV = "tictactoe"


def train_briefly(tmp_path: Path, publish_int8: bool) -> FilesystemModelStore:
    config = write_config(tmp_path / "config.toml", batch_size=32, min_positions=40,
                          device="cpu", checkpoint_interval=2, seed=3,
                          publish_int8=publish_int8)
    db = tmp_path / "replay.db"
    fill_replay(db, ENV, games=40, seed=1)
    settings = load(["--config", str(config), "--env", ENV, "--db", str(db),
                     "--model-dir", str(tmp_path / "models"),
                     "--stats", str(tmp_path / "stats.json"), "--steps", "3"])
    assert train(trainer_inputs(settings), threading.Event()) == 3
    return FilesystemModelStore(tmp_path / "models", ENV)


def test_every_version_carries_an_int8_model_that_plays(tmp_path: Path) -> None:
    store = train_briefly(tmp_path, publish_int8=True)
    assert [store.info(v).step for v in store.versions()] == [2, 3]
    game = get_game(ENV)
    observations, masks = play_random_positions(game, 64)
    for version in store.versions():
        info = store.info(version)
        assert info.int8_sha256 is not None and info.int8_bytes > 0
        int8 = OnnxEvaluator(store.load_int8(version), game=game, model_version=version,
                             provider="cpu", intra_op_threads=1)
        fp32 = OnnxEvaluator(store.load_onnx(version), game=game, model_version=version,
                             provider="cpu", intra_op_threads=1)
        assert (int8.precision, fp32.precision) == ("int8", "fp32")
        assert int8.metadata["cartridge.step"] == str(info.step)  # the same weights' model
        _, values8 = int8.evaluate(observations, masks)
        _, values32 = fp32.evaluate(observations, masks)
        assert np.abs(values8 - values32).mean() < 0.1


def test_publish_int8_false_publishes_fp32_only(tmp_path: Path) -> None:
    store = train_briefly(tmp_path, publish_int8=False)
    latest = store.latest()
    assert latest is not None and latest.int8_sha256 is None
    assert not (store.game_dir / "v000002" / "model.int8.onnx").exists()
    with pytest.raises(MissingArtifactError, match="publish_int8"):
        store.load_int8(latest.version)


def test_a_game_whose_actors_play_int8_gets_int8_models_without_publish_int8(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTRIDGE_SELFPLAY_TICTACTOE_PRECISION", "int8")
    store = train_briefly(tmp_path, publish_int8=False)
    assert store.versions()
    assert all(store.info(v).int8_sha256 is not None for v in store.versions())


def test_recent_observations_keep_the_newest_batches_up_to_capacity() -> None:
    recent = RecentObservations(capacity=5)
    with pytest.raises(ValueError, match="no observations"):
        recent.latest()
    for start in (0, 3, 6):  # batches of 3 observations numbered 0..8
        recent.add(torch.arange(start, start + 3, dtype=torch.float32).reshape(3, 1, 1, 1))
    newest = recent.latest()
    assert newest.dtype == np.float32
    assert newest.reshape(-1).tolist() == [4, 5, 6, 7, 8]
    recent.add(torch.full((6, 1, 1, 1), 9.0))  # one batch larger than capacity
    assert recent.latest().reshape(-1).tolist() == [9] * 5
