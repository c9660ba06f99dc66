"""The perfect Connect Four anchor: every move scored by the BitBully solver.

BitBully (https://pypi.org/project/bitbully/) is AGPL-3.0, so it is an optional
extra (`pip install 'cartridge[solver]'`) that the arena uses only when
[arena] connect4_solver = true; nothing else in Cartridge imports it. With its
opening book it scores all seven moves of a position in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cartridge.games.connect4 import _STRIDE, HEIGHT, WIDTH, Connect4State

INSTALL_HINT = "pip install 'cartridge[solver]' (the BitBully solver, AGPL-3.0)"


class SolverUnavailableError(RuntimeError):
    """BitBully is not installed."""


def solver_installed() -> bool:
    try:
        import bitbully  # noqa: F401
    except ImportError:
        return False
    return True


class SolverPlayer:
    """A best move by exact score (the fastest win, the slowest loss), ties at random."""

    def __init__(self, rng: np.random.Generator) -> None:
        try:
            from bitbully import BitBully, Board
        except ImportError:
            raise SolverUnavailableError(
                f"the perfect Connect Four anchor needs BitBully: {INSTALL_HINT}") from None
        self._solver, self._board = BitBully(), Board
        self.rng = rng

    def choose(self, states: Sequence[Any]) -> list[int]:
        moves = []
        for state in states:
            scores = self._solver.score_all_moves(self._board(columns(state)))
            best = max(scores.values())
            moves.append(int(self.rng.choice(sorted(c for c, s in scores.items() if s == best))))
        return moves


def columns(state: Connect4State) -> list[list[int]]:
    """The board as BitBully reads it: 7 columns of 6 cells from the bottom, 1 for the
    first player's stones, 2 for the second's, 0 empty."""
    first = state.mine if state.ply % 2 == 0 else state.mine ^ state.occupied
    board = [[0] * HEIGHT for _ in range(WIDTH)]
    for column in range(WIDTH):
        for row in range(HEIGHT):
            bit = 1 << (column * _STRIDE + row)
            if state.occupied & bit:
                board[column][row] = 1 if first & bit else 2
    return board
