"""Rules of each game: wins, draws, illegal actions, Othello passes and game end,
and the sign of terminal values (for the side to move at the end)."""

from __future__ import annotations

import numpy as np
import pytest

from cartridge.games import GAME_IDS, IllegalActionError, get_game
from cartridge.games.othello import PASS, make_state
from cartridge.integrity import random_game

TTT = get_game("tictactoe")
C4 = get_game("connect4")
OTH = get_game("othello")


def bit(*squares: int) -> int:
    return sum(1 << s for s in squares)


# --- tic-tac-toe --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moves", "line"),
    [
        ([0, 3, 1, 4, 2], "top row"),
        ([6, 0, 7, 1, 8], "bottom row"),
        ([1, 0, 4, 2, 7], "middle column"),
        ([0, 1, 4, 2, 8], "main diagonal"),
        ([2, 0, 4, 1, 6], "anti-diagonal"),
    ],
)
def test_tictactoe_x_wins_on_every_kind_of_line(moves: list[int], line: str) -> None:
    before = TTT.apply_all(moves[:-1])
    assert not TTT.is_terminal(before), line
    state = TTT.apply(before, moves[-1])
    assert TTT.is_terminal(state), line
    assert TTT.to_play(state) == 1  # O would move next, and O has lost
    assert TTT.terminal_value(state) == -1.0
    assert not TTT.legal_mask(state).any()
    assert TTT.legal_actions(state) == []


def test_tictactoe_o_wins_with_a_column() -> None:
    state = TTT.apply_all([0, 2, 1, 5, 6, 8])  # O: 2, 5, 8
    assert TTT.is_terminal(state)
    assert TTT.to_play(state) == 0
    assert TTT.terminal_value(state) == -1.0
    assert TTT.render(state) == "XXO\n..O\nX.O"


def test_tictactoe_full_board_without_a_line_is_a_draw() -> None:
    state = TTT.apply_all([0, 1, 2, 4, 3, 5, 7, 6, 8])
    assert TTT.render(state) == "XOX\nXOO\nOXX"
    assert TTT.is_terminal(state)
    assert TTT.terminal_value(state) == 0.0


def test_tictactoe_win_on_the_last_cell_is_a_win_not_a_draw() -> None:
    # X completes the diagonal 0-4-8 with the ninth stone.
    state = TTT.apply_all([0, 1, 4, 2, 5, 3, 6, 7, 8])
    assert TTT.render(state) == "XOO\nOXX\nXOX"
    assert TTT.terminal_value(state) == -1.0


def test_tictactoe_illegal_actions() -> None:
    state = TTT.apply_all([4])
    with pytest.raises(IllegalActionError, match="cell 4 is occupied"):
        TTT.apply(state, 4)
    for action in (-1, 9):
        with pytest.raises(IllegalActionError, match=r"out of range 0\.\.8"):
            TTT.apply(state, action)
    with pytest.raises(IllegalActionError, match="out of range"):
        TTT.apply(state, 1.0)  # type: ignore[arg-type]
    won = TTT.apply_all([0, 3, 1, 4, 2])
    with pytest.raises(IllegalActionError, match="game is over"):
        TTT.apply(won, 8)
    with pytest.raises(IllegalActionError, match=r"action #5 \(8\) played after the game ended"):
        TTT.apply_all([0, 3, 1, 4, 2, 8])
    with pytest.raises(IllegalActionError, match=r"action #1: .*occupied"):
        TTT.apply_all([0, 0])


# --- Connect Four -------------------------------------------------------------------


def test_connect4_vertical_win() -> None:
    before = C4.apply_all([0, 1, 0, 1, 0, 1])
    assert not C4.is_terminal(before)
    state = C4.apply(before, 0)
    assert C4.is_terminal(state)
    assert C4.to_play(state) == 1
    assert C4.terminal_value(state) == -1.0


def test_connect4_horizontal_win_by_the_second_player() -> None:
    state = C4.apply_all([0, 1, 0, 2, 6, 3, 6, 4])  # O: 1, 2, 3, 4 on the bottom row
    assert C4.is_terminal(state)
    assert C4.render(state).splitlines()[-1] == "XOOOO.X"
    assert C4.to_play(state) == 0
    assert C4.terminal_value(state) == -1.0


# X ends on (column, row from the bottom) (0,0), (1,1), (2,2), (3,3).
DIAGONAL = [0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3]


@pytest.mark.parametrize("mirrored", [False, True])
def test_connect4_diagonal_wins_both_ways(mirrored: bool) -> None:
    moves = [6 - m for m in DIAGONAL] if mirrored else DIAGONAL
    before = C4.apply_all(moves[:-1])
    assert not C4.is_terminal(before)
    state = C4.apply(before, moves[-1])
    assert C4.is_terminal(state)
    assert C4.terminal_value(state) == -1.0


def test_connect4_no_win_across_the_column_boundary() -> None:
    # X on the top three cells of column 0 and the bottom of column 1: consecutive
    # bits but for the empty guard bit between columns, so not a line.
    state = C4.apply_all([1, 0, 6, 0, 5, 0, 0, 6, 0, 5, 0])
    assert C4.render(state).splitlines()[0] == "X......"
    assert C4.render(state).splitlines()[-1] == "OX...XX"
    assert not C4.is_terminal(state)


# Found by random play: the board fills with no four in a row.
DRAW = [3, 3, 5, 2, 1, 2, 0, 0, 5, 0, 1, 4, 6, 0, 2, 4, 3, 5, 5, 2, 4, 2, 2, 3, 0, 1, 4, 4, 1,
        0, 4, 6, 6, 5, 6, 6, 3, 3, 5, 6, 1, 1]


def test_connect4_full_board_is_a_draw() -> None:
    state = C4.apply_all(DRAW)
    assert C4.render(state) == "\n".join(
        ["OOXOXXO", "XXOXOOO", "OXOOXXX", "OOXXXOX", "OXOOOXO", "XXOXOXX"]
    )
    assert C4.is_terminal(state)
    assert C4.terminal_value(state) == 0.0
    assert not C4.legal_mask(state).any()


def test_connect4_illegal_actions() -> None:
    full = C4.apply_all([2] * 6)
    assert not C4.is_terminal(full)
    assert C4.legal_actions(full) == [0, 1, 3, 4, 5, 6]
    with pytest.raises(IllegalActionError, match="column 2 is full"):
        C4.apply(full, 2)
    for action in (-1, 7):
        with pytest.raises(IllegalActionError, match=r"out of range 0\.\.6"):
            C4.apply(full, action)
    won = C4.apply_all([0, 1, 0, 1, 0, 1, 0])
    with pytest.raises(IllegalActionError, match="game is over"):
        C4.apply(won, 3)


# --- Othello ------------------------------------------------------------------------


def test_othello_start_and_first_move_flips() -> None:
    start = OTH.initial_state()
    assert OTH.to_play(start) == 0
    assert OTH.legal_actions(start) == [19, 26, 37, 44]  # d3, c4, f5, e6
    state = OTH.apply(start, 19)
    assert OTH.render(state).splitlines()[2:5] == ["...X....", "...XX...", "...XO..."]
    assert OTH.to_play(state) == 1


def test_othello_flips_in_several_directions_at_once() -> None:
    # Dark plays 0 with light on 1 and 9 and dark beyond them on 2 and 18.
    state = make_state(bit(2, 18), bit(1, 9), 0)
    after = OTH.apply(state, 0)
    assert after.theirs == bit(0, 1, 2, 9, 18)  # dark, now the side not to move
    assert after.mine == 0


def test_othello_illegal_actions() -> None:
    start = OTH.initial_state()
    with pytest.raises(IllegalActionError, match=r"pass.*a move is available"):
        OTH.apply(start, PASS)
    with pytest.raises(IllegalActionError, match="flips nothing or is occupied"):
        OTH.apply(start, 0)
    with pytest.raises(IllegalActionError, match="flips nothing or is occupied"):
        OTH.apply(start, 27)  # a light disc
    for action in (-1, 65):
        with pytest.raises(IllegalActionError, match=r"out of range 0\.\.64"):
            OTH.apply(start, action)


def test_othello_pass_is_the_only_action_when_no_move_exists() -> None:
    # Light on a1, dark on b1: dark cannot flank a corner disc; light can play c1.
    state = make_state(mine=bit(1), theirs=bit(0), to_play=0)
    assert not OTH.is_terminal(state)
    mask = OTH.legal_mask(state)
    assert mask[PASS] and mask.sum() == 1
    assert OTH.legal_actions(state) == [PASS]
    with pytest.raises(IllegalActionError):
        OTH.apply(state, 2)
    passed = OTH.apply(state, PASS)
    assert OTH.to_play(passed) == 1
    assert OTH.render(passed) == OTH.render(state)
    assert OTH.legal_actions(passed) == [2]
    # Light takes the last dark disc: nobody can move, the game is over.
    end = OTH.apply(passed, 2)
    assert OTH.is_terminal(end)
    assert not OTH.legal_mask(end).any()
    assert OTH.to_play(end) == 0
    assert OTH.terminal_value(end) == -1.0  # dark, to move, has no discs
    with pytest.raises(IllegalActionError, match="game is over"):
        OTH.apply(end, PASS)


@pytest.mark.parametrize(("mine", "theirs"), [(bit(3), bit(3, 4)), (-1, 0), (1 << 64, 0)])
def test_othello_make_state_refuses_impossible_boards(mine: int, theirs: int) -> None:
    with pytest.raises(ValueError, match="overlap or lie off"):
        make_state(mine, theirs, 0)


def test_othello_ends_when_neither_side_can_move_on_a_board_not_full() -> None:
    state = make_state(mine=bit(0, 7), theirs=bit(63), to_play=1)
    assert OTH.is_terminal(state)
    assert OTH.legal_actions(state) == []
    assert OTH.terminal_value(state) == 1.0  # the side to move has more discs
    tied = make_state(mine=bit(0), theirs=bit(63), to_play=0)
    assert OTH.terminal_value(tied) == 0.0


def test_othello_shortest_game_is_a_wipeout_at_ply_9() -> None:
    moves = [19, 18, 17, 11, 4, 43, 51, 20, 29]  # found by exhaustive search
    before = OTH.apply_all(moves[:-1])
    assert not OTH.is_terminal(before)
    state = OTH.apply(before, moves[-1])
    assert OTH.is_terminal(state)
    assert state.mine == 0 and state.theirs.bit_count() == 13
    assert OTH.to_play(state) == 1  # light, wiped out, would move next
    assert OTH.terminal_value(state) == -1.0


def test_othello_random_games_pass_only_when_forced() -> None:
    rng = np.random.default_rng(7)
    passes = 0
    for _ in range(40):
        _, states = random_game(OTH, rng)
        for state in states[:-1]:
            mask = OTH.legal_mask(state)
            if mask[PASS]:
                passes += 1
                assert mask.sum() == 1
                assert state.moves == 0
                assert OTH.legal_actions(OTH.apply(state, PASS)) != [PASS]
        end = states[-1]
        assert OTH.legal_actions(end) == []
        assert OTH.legal_actions(make_state(end.theirs, end.mine, 1 - end.to_play)) == []
    assert passes > 0  # the sample really exercised passes


# --- every game ---------------------------------------------------------------------


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_mask_agrees_with_actions_and_everything_else_raises(game_id: str) -> None:
    game = get_game(game_id)
    rng = np.random.default_rng(3)
    for _ in range(4 if game_id == "othello" else 20):
        _, states = random_game(game, rng)
        for state in states:
            mask = game.legal_mask(state)
            assert mask.shape == (game.num_actions,) and mask.dtype == bool
            assert np.flatnonzero(mask).tolist() == game.legal_actions(state)
            assert mask.any() != game.is_terminal(state)
            for action in np.flatnonzero(~mask):
                with pytest.raises(IllegalActionError):
                    game.apply(state, int(action))


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_terminal_value_is_minus_one_when_the_last_mover_won(game_id: str) -> None:
    # In a finished game with a winner, the winner is whoever made the last move
    # (or, in Othello, whoever has more discs): the value is for the side to move.
    game = get_game(game_id)
    rng = np.random.default_rng(11)
    seen = set()
    for _ in range(30):
        _, states = random_game(game, rng)
        end = states[-1]
        value = game.terminal_value(end)
        assert value in (-1.0, 0.0, 1.0)
        seen.add(value)
        if game_id == "othello":
            counts = (end.mine.bit_count(), end.theirs.bit_count())
            assert value == np.sign(counts[0] - counts[1])
        elif value != 0:
            assert value == -1.0
            assert game.to_play(end) != game.to_play(states[-2])
    assert -1.0 in seen


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_key_is_equal_for_transpositions(game_id: str) -> None:
    game = get_game(game_id)
    orders = {
        "tictactoe": ([0, 4, 2], [2, 4, 0]),
        "connect4": ([0, 3, 6], [6, 3, 0]),
        "othello": ([19, 18, 26], [26, 18, 19]),
    }[game_id]
    a, b = (game.apply_all(order) for order in orders)
    assert game.key(a) == game.key(b)
    assert game.key(a) != game.key(game.apply_all(orders[0][:2]))
