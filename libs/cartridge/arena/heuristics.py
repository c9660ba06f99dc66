"""Simple static evaluations for the alpha-beta anchor, from the side to move.

They read the observation planes (plane 0: the mover's stones, plane 1: the
opponent's), so they need nothing from a game beyond its `Game` interface:

- k-in-a-row games (tic-tac-toe k=3, Connect Four k=4): every window of k cells
  on a line that holds stones of one side only scores (stones in it)^2 for that
  side: open, nearly full lines are worth most.
- Othello: disc difference plus 10 per corner held (corners can never be flipped).

Kept deliberately plain: an anchor must stay the same forever, not improve.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from cartridge.games.base import Game

Heuristic = Callable[[Any], float]

_IN_A_ROW = {"tictactoe": 3, "connect4": 4}
_CORNER_WEIGHT = 10.0


def heuristic_for(game: Game) -> Heuristic:
    """The heuristic of `game`; a clear error for a game without one."""
    if game.id in _IN_A_ROW:
        windows = _line_windows(game.board_shape, _IN_A_ROW[game.id])
        return lambda state: _line_score(game.encode(state), windows)
    if game.id == "othello":
        return lambda state: _othello_score(game.encode(state))
    raise ValueError(f"no alpha-beta heuristic for game {game.id!r}")


@cache
def _line_windows(shape: tuple[int, int], length: int) -> np.ndarray:
    """[windows, length] flat cell indices of every straight run of `length` cells."""
    height, width = shape
    runs = []
    for r in range(height):
        for c in range(width):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + i * dr, c + i * dc) for i in range(length)]
                if all(0 <= rr < height and 0 <= cc < width for rr, cc in cells):
                    runs.append([rr * width + cc for rr, cc in cells])
    return np.asarray(runs, dtype=np.int64)


def _line_score(planes: np.ndarray, windows: np.ndarray) -> float:
    mine = planes[0].reshape(-1)[windows].sum(axis=1)  # [windows]
    theirs = planes[1].reshape(-1)[windows].sum(axis=1)
    score = np.where(theirs == 0, mine**2, 0.0) - np.where(mine == 0, theirs**2, 0.0)
    return float(score.sum())


def _othello_score(planes: np.ndarray) -> float:
    mine, theirs = planes[0], planes[1]
    corners = (0, -1)
    corner_diff = sum(mine[r, c] - theirs[r, c] for r in corners for c in corners)
    return float(mine.sum() - theirs.sum() + _CORNER_WEIGHT * corner_diff)
