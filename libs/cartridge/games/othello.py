"""Othello: 8x8, action = square index row-major (0 = top-left), 64 = pass.

Dark moves first from the standard start. Pass is legal only when no move is;
the game ends when neither side can move. Bit i of a bitboard is square i.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cartridge.games.base import Game, IllegalActionError, Symmetry, square_symmetries

SIZE = 8
PASS = 64
_ALL = (1 << 64) - 1
_SQUARES = np.arange(64, dtype=np.uint64)
_NOT_COL0 = _ALL & ~sum(1 << (r * 8) for r in range(8))
_NOT_COL7 = _ALL & ~sum(1 << (r * 8 + 7) for r in range(8))
# (shift, mask applied after shifting) for the 8 directions; positive = towards higher squares.
_DIRECTIONS = (
    (1, _NOT_COL0), (-1, _NOT_COL7), (8, _ALL), (-8, _ALL),
    (9, _NOT_COL0), (7, _NOT_COL7), (-7, _NOT_COL0), (-9, _NOT_COL7),
)


def _shift(bits: int, shift: int, mask: int) -> int:
    return ((bits << shift) if shift > 0 else (bits >> -shift)) & mask


def _moves(own: int, opp: int) -> int:
    empty = _ALL & ~(own | opp)
    moves = 0
    for shift, mask in _DIRECTIONS:
        run = _shift(own, shift, mask) & opp
        for _ in range(5):
            run |= _shift(run, shift, mask) & opp
        moves |= _shift(run, shift, mask) & empty
    return moves


def _flips(own: int, opp: int, square: int) -> int:
    flipped = 0
    for shift, mask in _DIRECTIONS:
        run = 0
        cursor = _shift(square, shift, mask)
        while cursor & opp:
            run |= cursor
            cursor = _shift(cursor, shift, mask)
        if cursor & own:
            flipped |= run
    return flipped


class OthelloState(NamedTuple):
    mine: int  # discs of the side to move
    theirs: int
    to_play: int  # 0 = dark, 1 = light
    moves: int  # legal placements of the side to move (bitmask)
    terminal: bool


def make_state(mine: int, theirs: int, to_play: int) -> OthelloState:
    """The state with these discs (bit i = square i) and `to_play` to move.

    Also builds positions no game from the standard start reaches quickly
    (tests, transformed starts); `moves` and `terminal` are derived, never given.
    """
    if mine & theirs or min(mine, theirs) < 0 or (mine | theirs) > _ALL:
        raise ValueError("othello: discs overlap or lie off the 64 squares")
    moves = _moves(mine, theirs)
    terminal = moves == 0 and _moves(theirs, mine) == 0
    return OthelloState(mine, theirs, to_play, moves, terminal)


def _bits_to_cells(bits: int) -> np.ndarray:
    octets = np.frombuffer(bits.to_bytes(8, "little"), dtype=np.uint8)
    return np.unpackbits(octets, bitorder="little")


class Othello(Game[OthelloState]):
    id = "othello"
    num_actions = 65
    board_shape = (SIZE, SIZE)
    observation_shape = (2, SIZE, SIZE)

    def __init__(self) -> None:
        self._symmetries = square_symmetries(SIZE, self.num_actions)

    def initial_state(self) -> OthelloState:
        dark = (1 << 28) | (1 << 35)  # e4, d5
        light = (1 << 27) | (1 << 36)  # d4, e5
        return make_state(dark, light, 0)

    def legal_mask(self, state: OthelloState) -> np.ndarray:
        mask = np.zeros(self.num_actions, dtype=bool)
        if state.terminal:
            return mask
        if state.moves:
            mask[:64] = _bits_to_cells(state.moves).astype(bool)
        else:
            mask[PASS] = True
        return mask

    def legal_actions(self, state: OthelloState) -> list[int]:
        if state.terminal:
            return []
        if not state.moves:
            return [PASS]
        return [i for i in range(64) if state.moves >> i & 1]

    def apply(self, state: OthelloState, action: int) -> OthelloState:
        self.check_action(action)
        action = int(action)
        if state.terminal:
            raise IllegalActionError(f"othello: action {action}: the game is over")
        if action == PASS:
            if state.moves:
                raise IllegalActionError(
                    "othello: action 64 (pass) is illegal: a move is available"
                )
            return make_state(state.theirs, state.mine, 1 - state.to_play)
        square = 1 << action
        if not state.moves & square:
            raise IllegalActionError(
                f"othello: action {action} (row {action // 8}, column {action % 8}) flips nothing"
                " or is occupied"
            )
        flipped = _flips(state.mine, state.theirs, square)
        mine = state.mine | square | flipped
        return make_state(state.theirs & ~flipped, mine, 1 - state.to_play)

    def is_terminal(self, state: OthelloState) -> bool:
        return state.terminal

    def terminal_value(self, state: OthelloState) -> float:
        mine, theirs = state.mine.bit_count(), state.theirs.bit_count()
        return float((mine > theirs) - (mine < theirs))

    def to_play(self, state: OthelloState) -> int:
        return state.to_play

    def encode(self, state: OthelloState) -> np.ndarray:
        planes = np.stack((_bits_to_cells(state.mine), _bits_to_cells(state.theirs)))
        return planes.astype(np.float32).reshape(2, SIZE, SIZE)

    def encode_batch(self, states: list[OthelloState]) -> np.ndarray:
        count = len(states)
        mine = np.fromiter((s.mine for s in states), dtype=np.uint64, count=count)
        theirs = np.fromiter((s.theirs for s in states), dtype=np.uint64, count=count)
        planes = np.stack((mine, theirs), axis=1)[:, :, None] >> _SQUARES & np.uint64(1)
        return planes.astype(np.float32).reshape(count, 2, SIZE, SIZE)

    def legal_mask_batch(self, states: list[OthelloState]) -> np.ndarray:
        count = len(states)
        moves = np.fromiter((s.moves for s in states), dtype=np.uint64, count=count)
        live = np.fromiter((not s.terminal for s in states), dtype=bool, count=count)
        masks = np.zeros((count, self.num_actions), dtype=bool)
        masks[:, :64] = (moves[:, None] >> _SQUARES & np.uint64(1)).astype(bool)
        masks[:, PASS] = live & (moves == 0)
        return masks

    def key(self, state: OthelloState) -> tuple[int, int, int]:
        return (state.mine, state.theirs, state.to_play)

    def symmetries(self) -> list[Symmetry]:
        return self._symmetries

    def render(self, state: OthelloState) -> str:
        mine, theirs = state.mine, state.theirs
        dark, light = (mine, theirs) if state.to_play == 0 else (theirs, mine)
        return "\n".join(
            "".join("X" if dark >> (8 * r + c) & 1 else "O" if light >> (8 * r + c) & 1 else "."
                    for c in range(8))
            for r in range(8)
        )
