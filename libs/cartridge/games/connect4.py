"""Connect Four: 7 columns x 6 rows, action = column (0 = leftmost).

Bitboards as in Pascal Pons' solver: column c uses bits c*7 .. c*7+5 (bottom
to top) plus one empty guard bit, so alignments are found with four shifts.
Observation row 0 is the top row, as the board is drawn.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cartridge.games.base import Game, IllegalActionError, Symmetry

WIDTH, HEIGHT = 7, 6
_STRIDE = HEIGHT + 1
_BOTTOM = [1 << (c * _STRIDE) for c in range(WIDTH)]
_TOP = [1 << (c * _STRIDE + HEIGHT - 1) for c in range(WIDTH)]
_TOP_BITS = np.array(_TOP, dtype=np.int64)
_CELLS = WIDTH * HEIGHT
# Bit index of observation cell (r, c), r = 0 the top row.
_CELL_BITS = np.array(
    [c * _STRIDE + (HEIGHT - 1 - r) for r in range(HEIGHT) for c in range(WIDTH)], dtype=np.int64
)


class Connect4State(NamedTuple):
    mine: int  # stones of the side to move
    occupied: int  # all stones
    ply: int
    last_won: bool


def _aligned(stones: int) -> bool:
    for shift in (1, _STRIDE, _STRIDE - 1, _STRIDE + 1):  # vertical, horizontal, both diagonals
        pairs = stones & (stones >> shift)
        if pairs & (pairs >> (2 * shift)):
            return True
    return False


def _planes(bits: int) -> np.ndarray:
    octets = np.frombuffer(bits.to_bytes(7, "little"), dtype=np.uint8)
    raw = np.unpackbits(octets, bitorder="little")
    return raw[_CELL_BITS]


class Connect4(Game[Connect4State]):
    id = "connect4"
    num_actions = WIDTH
    board_shape = (HEIGHT, WIDTH)
    observation_shape = (2, HEIGHT, WIDTH)

    def __init__(self) -> None:
        identity = np.arange(_CELLS, dtype=np.int64)
        mirror = identity.reshape(HEIGHT, WIDTH)[:, ::-1].reshape(-1).copy()
        self._symmetries = [
            Symmetry("identity", identity, np.arange(WIDTH, dtype=np.int64)),
            Symmetry("mirror", mirror, np.arange(WIDTH, dtype=np.int64)[::-1].copy()),
        ]

    def initial_state(self) -> Connect4State:
        return Connect4State(0, 0, 0, False)

    def legal_mask(self, state: Connect4State) -> np.ndarray:
        mask = np.zeros(WIDTH, dtype=bool)
        if not self.is_terminal(state):
            for c in range(WIDTH):
                mask[c] = not state.occupied & _TOP[c]
        return mask

    def legal_actions(self, state: Connect4State) -> list[int]:
        if self.is_terminal(state):
            return []
        return [c for c in range(WIDTH) if not state.occupied & _TOP[c]]

    def apply(self, state: Connect4State, action: int) -> Connect4State:
        self.check_action(action)
        column = int(action)
        if self.is_terminal(state):
            raise IllegalActionError(f"connect4: action {action}: the game is over")
        if state.occupied & _TOP[column]:
            raise IllegalActionError(f"connect4: action {action}: column {column} is full")
        occupied = state.occupied | (state.occupied + _BOTTOM[column])
        placed = state.mine | (occupied ^ state.occupied)
        return Connect4State(placed ^ occupied, occupied, state.ply + 1, _aligned(placed))

    def is_terminal(self, state: Connect4State) -> bool:
        return state.last_won or state.ply == _CELLS

    def terminal_value(self, state: Connect4State) -> float:
        return -1.0 if state.last_won else 0.0

    def to_play(self, state: Connect4State) -> int:
        return state.ply & 1

    def encode(self, state: Connect4State) -> np.ndarray:
        mine = _planes(state.mine)
        theirs = _planes(state.mine ^ state.occupied)
        return np.stack((mine, theirs)).astype(np.float32).reshape(2, HEIGHT, WIDTH)

    def encode_batch(self, states: list[Connect4State]) -> np.ndarray:
        count = len(states)
        mine = np.fromiter((s.mine for s in states), dtype=np.int64, count=count)
        occupied = np.fromiter((s.occupied for s in states), dtype=np.int64, count=count)
        planes = np.stack((mine, mine ^ occupied), axis=1)[:, :, None] >> _CELL_BITS & 1
        return planes.astype(np.float32).reshape(count, 2, HEIGHT, WIDTH)

    def legal_mask_batch(self, states: list[Connect4State]) -> np.ndarray:
        count = len(states)
        occupied = np.fromiter((s.occupied for s in states), dtype=np.int64, count=count)
        live = np.fromiter((not self.is_terminal(s) for s in states), dtype=bool, count=count)
        return ((occupied[:, None] & _TOP_BITS) == 0) & live[:, None]

    def key(self, state: Connect4State) -> tuple[int, int]:
        return (state.mine, state.occupied)

    def symmetries(self) -> list[Symmetry]:
        return self._symmetries

    def render(self, state: Connect4State) -> str:
        first = state.mine if state.ply % 2 == 0 else state.mine ^ state.occupied
        rows = []
        for r in range(HEIGHT):
            row = ""
            for c in range(WIDTH):
                bit = 1 << int(_CELL_BITS[r * WIDTH + c])
                row += "." if not state.occupied & bit else ("X" if first & bit else "O")
            rows.append(row)
        return "\n".join(rows)
