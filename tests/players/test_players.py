"""Players: legal moves, the one-ply rules, perfect minimax, and the exhaustive loss count."""

from __future__ import annotations

import numpy as np
import pytest

from cartridge.games import get_game
from cartridge.inference import UniformEvaluator
from cartridge.mcts import SearchConfig
from cartridge.players import (
    MctsPlayer,
    MinimaxPlayer,
    OnePlyPlayer,
    RandomPlayer,
    exhaustive_losses,
    play_match,
)

TICTACTOE = get_game("tictactoe")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_minimax_values_the_empty_board_as_a_draw() -> None:
    assert MinimaxPlayer(TICTACTOE, rng()).value(TICTACTOE.initial_state()) == 0


def test_perfect_agent_never_loses_against_every_reply() -> None:
    assert exhaustive_losses(TICTACTOE, MinimaxPlayer(TICTACTOE, rng())) == 0


def test_random_agent_loses_some_lines() -> None:
    assert exhaustive_losses(TICTACTOE, RandomPlayer(TICTACTOE, rng())) > 0


def test_exhaustive_losses_counts_every_reply() -> None:
    # An agent that always takes the lowest free cell, as X: it plays 0, 1, 2, ... and
    # wins on the top row unless O blocks; O's replies are enumerated, so some lose.
    class Lowest:
        def choose(self, states):
            return [TICTACTOE.legal_actions(s)[0] for s in states]

    assert exhaustive_losses(TICTACTOE, Lowest(), seats=(0,)) > 0
    assert exhaustive_losses(TICTACTOE, Lowest(), seats=(1,)) > 0


def test_one_ply_takes_a_win_and_blocks_a_loss() -> None:
    player = OnePlyPlayer(TICTACTOE, rng())
    # X: 0, 1 ; O: 3, 4 ; X to move wins at 2.
    win = TICTACTOE.apply_all([0, 3, 1, 4])
    assert player.choose([win]) == [2]
    # X: 0, 1 ; O: 4 ; O to move must block at 2 (no win of its own available).
    block = TICTACTOE.apply_all([0, 4, 1])
    assert player.choose([block]) == [2]


def test_one_ply_beats_random_at_connect4() -> None:
    game = get_game("connect4")
    result = play_match(game, OnePlyPlayer(game, rng(1)), RandomPlayer(game, rng(2)), 20)
    assert result.games == 20
    assert result.wins > result.losses


def test_match_results_add_up_and_minimax_never_loses() -> None:
    result = play_match(TICTACTOE, MinimaxPlayer(TICTACTOE, rng(1)),
                        RandomPlayer(TICTACTOE, rng(2)), 30)
    assert result.games == 30
    assert result.losses == 0
    assert result.wins > 0


@pytest.mark.parametrize("seat", [0, 1])
def test_mcts_player_is_deterministic_with_a_fixed_seed(seat: int) -> None:
    # The exhaustive check needs the agent to answer a position the same way every time.
    config = SearchConfig(num_simulations=50, dirichlet_epsilon=0.0)
    agent = MctsPlayer(TICTACTOE, UniformEvaluator(), config, rng(0))
    first = exhaustive_losses(TICTACTOE, agent, seats=(seat,))
    again = exhaustive_losses(
        TICTACTOE, MctsPlayer(TICTACTOE, UniformEvaluator(), config, rng(0)), seats=(seat,))
    assert first == again


def test_mcts_player_beats_random() -> None:
    config = SearchConfig(num_simulations=100)
    agent = MctsPlayer(TICTACTOE, UniformEvaluator(), config, rng(0))
    result = play_match(TICTACTOE, agent, RandomPlayer(TICTACTOE, rng(1)), 20)
    assert result.wins > result.losses
