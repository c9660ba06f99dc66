"""Perfect-play benchmark for tic-tac-toe.

- value kept: over all 4,520 non-terminal positions reachable from the empty
  board (either side to move), the share where the agent's move keeps the
  position's game-theoretic value (a won position stays won, a drawn one
  drawn; in a lost position every move keeps the value);
- losses: games the agent loses against every possible reply of the opponent,
  from both seats (`players.exhaustive_losses`): 0 means it never loses.

Run it for the network alone (`PolicyPlayer`) and for network + search.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from cartridge.games import get_game
from cartridge.players import MinimaxPlayer, Player, exhaustive_losses

TICTACTOE_POSITIONS = 4520
_CHUNK = 512  # positions asked at once (bounds a search player's tree memory)


@dataclass(frozen=True)
class PerfectPlayResult:
    positions: int
    value_kept: int
    losses: int  # against every reply, both seats

    @property
    def value_kept_share(self) -> float:
        return self.value_kept / self.positions


@cache
def tictactoe_positions() -> tuple[Any, ...]:
    """Every non-terminal position reachable from the empty board, once each."""
    game = get_game("tictactoe")
    found = {}
    frontier = [game.initial_state()]
    while frontier:
        children = []
        for state in frontier:
            key = game.key(state)
            if key in found or game.is_terminal(state):
                continue
            found[key] = state
            children.extend(game.apply(state, a) for a in game.legal_actions(state))
        frontier = children
    return tuple(found.values())


@cache
def _perfect() -> MinimaxPlayer:
    # Its values are memoised; the rng is never used for values.
    return MinimaxPlayer(get_game("tictactoe"), np.random.default_rng(0))


def tictactoe_benchmark(agent: Player) -> PerfectPlayResult:
    """Score a deterministic agent (a fixed seed for a search player) on tic-tac-toe."""
    game, perfect = get_game("tictactoe"), _perfect()
    positions = tictactoe_positions()
    kept = 0
    for start in range(0, len(positions), _CHUNK):
        chunk = positions[start:start + _CHUNK]
        for state, action in zip(chunk, agent.choose(chunk), strict=True):
            kept += -perfect.value(game.apply(state, action)) == perfect.value(state)
    return PerfectPlayResult(len(positions), kept, exhaustive_losses(game, agent))
