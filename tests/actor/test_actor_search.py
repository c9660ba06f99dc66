"""[selfplay.<game>]: the search an actor trains a game with, over [mcts]."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from actor.cli import build_parser, overrides_from_args
from actor.loop import run_actor
from cartridge.config import load_settings
from cartridge.config.entry import settings_from_flags
from tests.actor.helpers import REPO, read_games

# Tic-tac-toe's first position has 9 legal moves: 8 PUCT simulations leave one unvisited
# (a zero in the visit-count target); Gumbel's improved policy, a softmax over every legal
# move, leaves none. Games start there: no random opening.
SIMULATIONS = 8
FROM_THE_START = {"random_opening_plies": 0}


def first_targets(settings) -> np.ndarray:
    run_actor(settings, "a1", threading.Event())
    games = read_games(settings.common.data_dir / "replay.db")
    assert games
    return np.stack([g.policies[0] for g in games])


def test_the_games_own_search_is_what_its_actors_train_with(settings_for, caplog) -> None:
    override = {"tictactoe": {"algorithm": "gumbel", "num_simulations": SIMULATIONS,
                              "gumbel_considered": 3, **FROM_THE_START}}
    with caplog.at_level(logging.INFO, logger="actor.loop"):
        targets = first_targets(settings_for(max_episodes=4, selfplay=override))
    assert "gumbel (m = 3) search, 8 simulations" in caplog.text
    assert (targets > 0).all()  # the improved policy: mass on every legal move


def test_a_puct_override_trains_with_visit_counts(settings_for, caplog) -> None:
    settings = settings_for(max_episodes=4, selfplay={
        "tictactoe": {"algorithm": "puct", "num_simulations": SIMULATIONS, **FROM_THE_START}})
    assert settings.selfplay.search("tictactoe", settings.mcts).num_simulations == SIMULATIONS
    with caplog.at_level(logging.INFO, logger="actor.loop"):
        targets = first_targets(settings)
    assert "puct search, 8 simulations" in caplog.text
    assert ((targets == 0).sum(axis=1) >= 1).all()  # visit counts: a move left unvisited
    assert np.allclose(targets * SIMULATIONS, np.round(targets * SIMULATIONS), atol=1e-5)


def test_without_search_keys_of_its_own_a_game_trains_with_mcts(tmp_path) -> None:
    # Othello's table, the last game's, with its search keys taken out.
    keys = 'algorithm = "gumbel"\nnum_simulations = 32\ngumbel_considered = 4\n\n[inference]'
    text = (REPO / "config.toml").read_text()
    assert keys in text
    (tmp_path / "config.toml").write_text(text.replace(keys, "\n[inference]"))
    settings = load_settings(tmp_path / "config.toml", environ={})
    assert settings.selfplay.search("othello", settings.mcts) == settings.mcts


# Connect Four's self-play searches 16 simulations (twice the games, README "Half the
# simulations"); tic-tac-toe and Othello were measured at 32 only.
DEFAULT_SIMULATIONS = {"tictactoe": 32, "connect4": 16, "othello": 32}


@pytest.mark.parametrize("env_id", ["tictactoe", "connect4", "othello"])
def test_every_game_trains_with_gumbel_by_default(env_id) -> None:
    settings = load_settings(REPO / "config.toml", environ={})
    search = settings.selfplay.search(env_id, settings.mcts)
    assert (search.algorithm, search.num_simulations, search.gumbel_considered) == (
        "gumbel", DEFAULT_SIMULATIONS[env_id], 4)
    assert search.c_puct == settings.mcts.c_puct  # keys left out keep [mcts]'s
    assert settings.mcts.num_simulations == 200  # the arena and the play page keep [mcts]'s


@pytest.mark.parametrize("env_id", ["tictactoe", "connect4", "othello"])
def test_the_sims_flag_sets_the_self_play_simulations_of_the_game_played(env_id) -> None:
    argv = ["--config", str(REPO / "config.toml"), "--env", env_id, "--sims", "12"]
    settings = settings_from_flags(build_parser(), argv, overrides_from_args)
    assert settings.selfplay.search(env_id, settings.mcts).num_simulations == 12
    unflagged = settings_from_flags(build_parser(), argv[:-2], overrides_from_args)
    assert (unflagged.selfplay.search(env_id, unflagged.mcts).num_simulations
            == DEFAULT_SIMULATIONS[env_id])
