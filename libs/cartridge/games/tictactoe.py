"""Tic-tac-toe: 3x3, action = cell index row-major (0 = top-left), X moves first."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cartridge.games.base import Game, IllegalActionError, Symmetry, square_symmetries

_LINES = [
    (0, 1, 2), (3, 4, 5), (6, 7, 8),  # rows
    (0, 3, 6), (1, 4, 7), (2, 5, 8),  # columns
    (0, 4, 8), (2, 4, 6),  # diagonals
]
_LINE_MASKS = tuple(sum(1 << c for c in line) for line in _LINES)
_FULL = (1 << 9) - 1
# Row i holds the 9 cells of bitmask i as 0/1 floats: encoding is two lookups.
_BITS_TO_CELLS = ((np.arange(512)[:, None] >> np.arange(9)) & 1).astype(np.float32)


class TicTacToeState(NamedTuple):
    mine: int  # stones of the side to move, bit i = cell i
    theirs: int  # stones of the opponent
    to_play: int  # 0 = X, 1 = O
    last_won: bool  # the previous move completed a line


# _HAS_LINE[stones] for every 9-bit stone set: the win check is one lookup.
_HAS_LINE = tuple(any(b & m == m for m in _LINE_MASKS) for b in range(512))


class TicTacToe(Game[TicTacToeState]):
    id = "tictactoe"
    num_actions = 9
    board_shape = (3, 3)
    observation_shape = (2, 3, 3)

    def __init__(self) -> None:
        self._symmetries = square_symmetries(3, self.num_actions)

    def initial_state(self) -> TicTacToeState:
        return TicTacToeState(0, 0, 0, False)

    def legal_mask(self, state: TicTacToeState) -> np.ndarray:
        if self.is_terminal(state):
            return np.zeros(9, dtype=bool)
        return _BITS_TO_CELLS[_FULL ^ (state.mine | state.theirs)].astype(bool)

    def legal_actions(self, state: TicTacToeState) -> list[int]:
        if self.is_terminal(state):
            return []
        empty = _FULL ^ (state.mine | state.theirs)
        return [c for c in range(9) if empty >> c & 1]

    def apply(self, state: TicTacToeState, action: int) -> TicTacToeState:
        self.check_action(action)
        bit = 1 << int(action)
        if self.is_terminal(state):
            raise IllegalActionError(f"tictactoe: action {action}: the game is over")
        if (state.mine | state.theirs) & bit:
            raise IllegalActionError(f"tictactoe: action {action}: cell {action} is occupied")
        placed = state.mine | bit
        return TicTacToeState(state.theirs, placed, 1 - state.to_play, _HAS_LINE[placed])

    def is_terminal(self, state: TicTacToeState) -> bool:
        return state.last_won or (state.mine | state.theirs) == _FULL

    def terminal_value(self, state: TicTacToeState) -> float:
        return -1.0 if state.last_won else 0.0

    def to_play(self, state: TicTacToeState) -> int:
        return state.to_play

    def encode(self, state: TicTacToeState) -> np.ndarray:
        return np.stack((_BITS_TO_CELLS[state.mine], _BITS_TO_CELLS[state.theirs])).reshape(2, 3, 3)

    def encode_batch(self, states: list[TicTacToeState]) -> np.ndarray:
        mine = np.fromiter((s.mine for s in states), dtype=np.int64, count=len(states))
        theirs = np.fromiter((s.theirs for s in states), dtype=np.int64, count=len(states))
        return np.stack((_BITS_TO_CELLS[mine], _BITS_TO_CELLS[theirs]), axis=1).reshape(
            len(states), 2, 3, 3)

    def legal_mask_batch(self, states: list[TicTacToeState]) -> np.ndarray:
        empty = np.fromiter((0 if self.is_terminal(s) else _FULL ^ (s.mine | s.theirs)
                             for s in states), dtype=np.int64, count=len(states))
        return _BITS_TO_CELLS[empty].astype(bool)

    def key(self, state: TicTacToeState) -> tuple[int, int]:
        return (state.mine, state.theirs)

    def symmetries(self) -> list[Symmetry]:
        return self._symmetries

    def render(self, state: TicTacToeState) -> str:
        x, o = (state.mine, state.theirs) if state.to_play == 0 else (state.theirs, state.mine)
        rows = []
        for r in range(3):
            rows.append(
                "".join("X" if x >> (3 * r + c) & 1 else "O" if o >> (3 * r + c) & 1 else "."
                        for c in range(3))
            )
        return "\n".join(rows)
