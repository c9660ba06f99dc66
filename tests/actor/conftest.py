"""Fixtures for the actor tests: settings on a temporary data folder, nothing from outside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cartridge.config.settings import Settings, load_settings
from tests.actor.helpers import REPO

# Small and fast: a few games at once, shallow search.
FAST = {"concurrent_games": 8, "reload_interval": 0.2}
FAST_MCTS = {"num_simulations": 8}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CARTRIDGE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings_for(tmp_path: Path):
    def make(**actor: object) -> Settings:
        return load_settings(REPO / "config.toml", {
            "common": {"data_dir": tmp_path / "data"},
            "actor": {**FAST, **actor},
            "mcts": FAST_MCTS,
            "inference": {"intra_op_threads": 1},
        })
    return make
