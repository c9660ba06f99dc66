"""Fixtures for the actor tests: settings on a temporary data folder (tests/conftest.py's
clean_env keeps CARTRIDGE_* variables from outside away)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartridge.config.settings import Settings, load_settings
from tests.actor.helpers import REPO

# Small and fast: a few games at once, shallow search.
FAST = {"concurrent_games": 8, "reload_interval": 0.2}
FAST_MCTS = {"num_simulations": 8}
# Tic-tac-toe self-play has a search of its own ([selfplay.tictactoe]): as shallow.
FAST_SELFPLAY = {"tictactoe": {"num_simulations": 8}}


@pytest.fixture
def settings_for(tmp_path: Path):
    def make(selfplay: dict[str, object] | None = None, **actor: object) -> Settings:
        # A test's [selfplay.tictactoe] keys go over the fast search, not in its place.
        tictactoe = {**FAST_SELFPLAY["tictactoe"], **(selfplay or {}).get("tictactoe", {})}
        return load_settings(REPO / "config.toml", {
            "common": {"data_dir": tmp_path / "data"},
            "actor": {**FAST, **actor},
            "mcts": FAST_MCTS,
            "selfplay": {**FAST_SELFPLAY, **(selfplay or {}), "tictactoe": tictactoe},
            "inference": {"intra_op_threads": 1},
        })
    return make
