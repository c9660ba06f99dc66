"""Alpha-beta minimax at a fixed depth with a static heuristic: a fixed-strength anchor.

Negamax with alpha-beta pruning, fail-soft. A finished game scores +-WIN (sooner
wins and later losses preferred, by the depth left); a position at the depth
limit scores the game's heuristic. Equally good moves are told apart by
`rng`, so matches against it still vary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cartridge.arena.heuristics import heuristic_for
from cartridge.games.base import Game

WIN = 1e6


class AlphaBetaPlayer:
    def __init__(self, game: Game, depth: int, rng: np.random.Generator) -> None:
        if depth < 1:
            raise ValueError(f"alpha-beta depth must be >= 1, got {depth}")
        self.game, self.depth, self.rng = game, depth, rng
        self.heuristic = heuristic_for(game)

    def choose(self, states: Sequence[Any]) -> list[int]:
        return [self._choose_one(state) for state in states]

    def _choose_one(self, state: Any) -> int:
        best_score, best_actions = -math.inf, []
        for action in self.game.legal_actions(state):
            child = self.game.apply(state, action)
            # A window just below the best so far: children that tie it get exact
            # scores (so ties are found), worse ones are cut off early.
            alpha = best_score - 1e-9 if best_score > -math.inf else -math.inf
            score = -self._negamax(child, self.depth - 1, -math.inf, -alpha)
            if score > best_score + 1e-9:
                best_score, best_actions = score, [action]
            elif score >= best_score - 1e-9:
                best_actions.append(action)
        return int(self.rng.choice(best_actions))

    def _negamax(self, state: Any, depth: int, alpha: float, beta: float) -> float:
        game = self.game
        if game.is_terminal(state):
            return game.terminal_value(state) * (WIN + depth)
        if depth == 0:
            return self.heuristic(state)
        best = -math.inf
        for action in game.legal_actions(state):
            score = -self._negamax(game.apply(state, action), depth - 1, -beta, -alpha)
            best = max(best, score)
            alpha = max(alpha, score)
            if alpha >= beta:
                break
        return best
