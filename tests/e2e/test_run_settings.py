"""`cartridge run`'s [run] keys: actors (auto fits the machine), strength_games; and the
one-line error for bad configuration."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cartridge.cli.run import actor_count, check_strength
from cartridge.config.settings import load_settings
from cartridge.modelstore.filesystem import FilesystemModelStore
from tests.actor.helpers import REPO, publish, tiny_onnx


def test_actor_count_auto_leaves_a_core_for_the_trainer() -> None:
    assert actor_count(0, cores=1) == 1
    assert actor_count(0, cores=2) == 1
    assert actor_count(0, cores=16) == 15
    assert actor_count(3, cores=2) == 3


def test_strength_check_plays_strength_games_against_the_latest_model(tmp_path: Path) -> None:
    settings = load_settings(REPO / "config.toml", {
        "common": {"data_dir": tmp_path}, "run": {"strength_games": 6},
        "mcts": {"num_simulations": 8}}, environ={})
    assert check_strength(settings) is None  # no model yet
    store = FilesystemModelStore(tmp_path / "models", "tictactoe")
    version = publish(store, tiny_onnx()).version
    checked, summary = check_strength(settings)
    assert checked == version
    wins, draws, losses = map(int, re.search(r"(\d+)W (\d+)D (\d+)L", summary).groups())
    assert wins + draws + losses == 6
    assert "vs every reply" in summary
    assert check_strength(settings, skip_version=version) is None


def test_bad_run_setting_exits_2_naming_the_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "cartridge.cli.main", "run", "--config", str(REPO / "config.toml"),
         "--data-dir", str(tmp_path)],
        env={**env, "CARTRIDGE_RUN_ACTORS": "-1"}, capture_output=True, text=True,
        timeout=60, check=False)
    assert result.returncode == 2
    assert "run.actors" in result.stderr
    assert not (tmp_path / "logs").exists()  # nothing was started
