"""Precision "int8" ([inference] precision, or the game's [selfplay.<game>] precision): the
actor plays each version's int8 model, and skips, with a logged error, a version published
without one (never playing fp32 instead)."""

from __future__ import annotations

import logging
import threading

import pytest

from actor.loop import run_actor
from cartridge.config.settings import Settings
from cartridge.games import get_game
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.network.quantize import quantize_int8
from tests.actor.helpers import TINY_NETWORK, publish, read_games, read_status, tiny_onnx
from tests.conftest import play_random_positions


def int8_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"inference": settings.inference.model_copy(update={"precision": "int8"})})


def int8_for_tictactoe(settings: Settings) -> Settings:
    """int8 through the game's own key, [inference] left fp32."""
    game = settings.selfplay.tictactoe.model_copy(update={"precision": "int8"})
    return settings.model_copy(
        update={"selfplay": settings.selfplay.model_copy(update={"tictactoe": game})})


@pytest.mark.parametrize("asked", [int8_settings, int8_for_tictactoe])
def test_an_int8_actor_plays_the_int8_model(settings_for, asked,
                                            caplog: pytest.LogCaptureFixture) -> None:
    settings = asked(settings_for(max_episodes=8))
    store = FilesystemModelStore(settings.common.data_dir / "models", "tictactoe")
    onnx = tiny_onnx()
    calibration, _ = play_random_positions(get_game("tictactoe"), 64)
    version = store.publish(onnx, b"checkpoint", step=1, network=TINY_NETWORK,
                            int8=quantize_int8(onnx, calibration)).version
    with caplog.at_level(logging.INFO):
        run_actor(settings, "a1", threading.Event())
    games = read_games(settings.common.data_dir / "replay.db")
    assert games and all(set(g.model_versions) == {version} for g in games)
    assert read_status(settings.common.data_dir)["a1"]["precision"] == "int8"
    # The evaluator reads the precision from the model it loaded, not from the setting.
    assert f"loaded model version {version} (int8)" in caplog.text
    assert "plays int8 models" in caplog.text


def test_an_int8_actor_skips_a_version_without_int8_model(
    settings_for, caplog: pytest.LogCaptureFixture
) -> None:
    settings = int8_settings(settings_for(max_episodes=8))
    store = FilesystemModelStore(settings.common.data_dir / "models", "tictactoe")
    version = publish(store, tiny_onnx()).version  # fp32 only
    with caplog.at_level(logging.INFO):
        run_actor(settings, "a1", threading.Event())
    games = read_games(settings.common.data_dir / "replay.db")
    assert games and all(set(g.model_versions) == {0} for g in games)  # uniform, not fp32
    refusals = [r.getMessage() for r in caplog.records
                if r.levelno == logging.ERROR and f"refusing model version {version}" in
                r.getMessage()]
    assert refusals and "model.int8.onnx" in refusals[0]
    assert "(fp32)" not in caplog.text
