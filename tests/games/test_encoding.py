"""Observations: shape, the side to move's point of view, and a decoder that must
reproduce the board of random positions of every game."""

from __future__ import annotations

import numpy as np
import pytest

from cartridge.games import GAME_IDS, get_game
from cartridge.games.tictactoe import TicTacToe, TicTacToeState
from cartridge.integrity import decode_board, encoder_figures, encoder_problem


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_decoder_reproduces_random_positions(game_id: str) -> None:
    (figure,) = encoder_figures(get_game(game_id), games=20, seed=1)
    assert figure.ok, figure.detail


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_start_observation(game_id: str) -> None:
    game = get_game(game_id)
    obs = game.encode(game.initial_state())
    assert obs.shape == game.observation_shape
    assert obs.dtype == np.float32
    assert obs.shape[1:] == game.board_shape


def test_tictactoe_planes_swap_after_a_move() -> None:
    game = get_game("tictactoe")
    state = game.apply_all([4])  # X in the centre, O to move
    obs = game.encode(state)
    assert not obs[0].any()
    assert obs[1, 1, 1] == 1 and obs[1].sum() == 1
    obs = game.encode(game.apply(state, 0))  # O top-left, X to move
    assert obs[0, 1, 1] == 1 and obs[0].sum() == 1
    assert obs[1, 0, 0] == 1 and obs[1].sum() == 1


def test_connect4_row_zero_is_the_top_and_stones_fall() -> None:
    game = get_game("connect4")
    obs = game.encode(game.apply_all([3, 3]))  # X then O in column 3; X to move
    assert obs[0, 5, 3] == 1 and obs[0].sum() == 1  # bottom row
    assert obs[1, 4, 3] == 1 and obs[1].sum() == 1


def test_othello_start_from_dark_then_light() -> None:
    game = get_game("othello")
    start = game.initial_state()
    obs = game.encode(start)
    assert np.flatnonzero(obs[0]).tolist() == [28, 35]  # dark: e4, d5
    assert np.flatnonzero(obs[1]).tolist() == [27, 36]  # light: d4, e5
    after = game.encode(game.apply(start, 19))  # dark d3 flips d4; light to move
    assert np.flatnonzero(after[0]).tolist() == [36]
    assert np.flatnonzero(after[1]).tolist() == [19, 27, 28, 35]


def test_decode_board_draws_like_render() -> None:
    game = get_game("tictactoe")
    state = game.apply_all([0, 4, 8])  # O to move
    assert decode_board(game.encode(state), to_play=1) == "X..\n.O.\n..X"
    assert decode_board(game.encode(state), to_play=1) == game.render(state)


class AbsoluteTicTacToe(TicTacToe):
    """A broken encoder: X's plane first whoever is to move."""

    def encode(self, state: TicTacToeState) -> np.ndarray:
        obs = super().encode(state)
        return obs[::-1].copy() if state.to_play == 1 else obs


def test_the_check_catches_an_encoder_without_the_movers_point_of_view() -> None:
    broken = AbsoluteTicTacToe()
    state = broken.apply_all([4])
    assert encoder_problem(broken, state, None) is not None
    assert encoder_problem(broken, broken.initial_state(), state) is not None
    (figure,) = encoder_figures(broken, games=5)
    assert not figure.ok and figure.value > 0


@pytest.mark.parametrize("env_id", GAME_IDS)
def test_rows_draw_the_first_players_pieces_as_x(env_id: str) -> None:
    """Game.rows is what the play page draws: one string per row, top first, of
    "X" (first player), "O" (second) and "."; its pieces are the encoder's planes."""
    game = get_game(env_id)
    rng = np.random.default_rng(3)
    state = game.initial_state()
    for _ in range(6):
        state = game.apply(state, int(rng.choice(game.legal_actions(state))))
    rows = game.rows(state)
    _, height, width = game.observation_shape
    assert len(rows) == height and all(len(row) == width for row in rows)
    planes = game.encode(state)  # [mover's pieces, opponent's, ...] from the mover's side
    first, second = (planes[0], planes[1]) if game.to_play(state) == 0 else (planes[1], planes[0])
    drawn = np.array([list(row) for row in rows])
    assert ((drawn == "X") == (first > 0)).all()
    assert ((drawn == "O") == (second > 0)).all()
