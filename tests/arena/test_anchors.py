"""Anchors: the alpha-beta player's tactics and strength, names, and the perfect player."""

from __future__ import annotations

import numpy as np
import pytest

from cartridge.arena.alphabeta import AlphaBetaPlayer
from cartridge.arena.anchors import anchor_names, make_anchor
from cartridge.arena.match import play_match_games, summarise
from cartridge.arena.openings import select_openings
from cartridge.games import GAME_IDS, get_game

TICTACTOE = get_game("tictactoe")
CONNECT4 = get_game("connect4")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_alphabeta_takes_a_win_and_blocks_a_loss_at_connect4() -> None:
    player = AlphaBetaPlayer(CONNECT4, 3, rng())
    win = CONNECT4.apply_all([3, 0, 3, 0, 3, 1])  # first player stacks column 3 thrice
    assert player.choose([win]) == [3]
    block = CONNECT4.apply_all([3, 0, 3, 0, 3])  # second player must block column 3
    assert player.choose([block]) == [3]


def test_alphabeta_finds_a_two_move_win_at_tictactoe() -> None:
    # X: 0, 8 ; O: 4, 1. O threatens 7 (1-4-7): the only move that does not lose.
    state = TICTACTOE.apply_all([0, 4, 8, 1])
    assert AlphaBetaPlayer(TICTACTOE, 3, rng()).choose([state]) == [7]


def test_alphabeta_beats_one_ply_at_connect4() -> None:
    openings = select_openings("connect4", 6)
    results = play_match_games(CONNECT4, AlphaBetaPlayer(CONNECT4, 3, rng(1)),
                               make_anchor("one-ply", CONNECT4, rng(2)), openings)
    record = summarise(results)
    assert record.games == 12
    assert record.wins > record.losses


@pytest.mark.parametrize("env_id", GAME_IDS)
def test_every_anchor_of_every_game_plays_legal_moves(env_id) -> None:
    game = get_game(env_id)
    state = game.apply_all([])
    for name in anchor_names(env_id):
        (action,) = make_anchor(name, game, rng()).choose([state])
        assert action in game.legal_actions(state)


def test_the_perfect_connect4_anchor_is_rated_only_with_the_solver_on() -> None:
    assert "perfect" in anchor_names("tictactoe")
    assert "perfect" not in anchor_names("connect4")
    assert "perfect" in anchor_names("connect4", connect4_solver=True)
    assert "perfect" not in anchor_names("othello", connect4_solver=True)
    with pytest.raises(ValueError, match="no anchor 'perfect' for othello"):
        make_anchor("perfect", get_game("othello"), rng())


def test_perfect_anchor_gets_at_least_the_value_of_every_opening() -> None:
    perfect = make_anchor("perfect", TICTACTOE, rng(1))
    results = play_match_games(TICTACTOE, perfect, AlphaBetaPlayer(TICTACTOE, 3, rng(2)),
                               select_openings("tictactoe", 0))
    assert len(results) == 144
    for result in results:
        # Some 2-ply openings are already lost for one side; it never does worse.
        value = perfect.value(TICTACTOE.apply_all(list(result.opening)))  # seat 0 to move
        value_a = value if result.seat_a == 0 else -value
        assert result.score_a >= (value_a + 1) / 2
