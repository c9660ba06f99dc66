"""Model agents for matches and benchmarks.

- `PolicyPlayer`: the network alone, the argmax of its policy (what training learned);
- `search_player`: the network with evaluation-mode search ([mcts] algorithm, no root
  noise; PUCT's most visited move or Gumbel's halving winner): what users get. Every
  game of a match is searched in one batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from cartridge.games.base import Game
from cartridge.inference.base import Evaluator
from cartridge.mcts import SearchConfig
from cartridge.players import MctsPlayer


class PolicyPlayer:
    """The move the policy head rates highest (lowest action on exact ties), no search."""

    def __init__(self, game: Game, evaluator: Evaluator) -> None:
        self.game, self.evaluator = game, evaluator

    def choose(self, states: Sequence[Any]) -> list[int]:
        if not states:
            return []
        states = list(states)
        masks = self.game.legal_mask_batch(states)
        priors, _ = self.evaluator.evaluate(self.game.encode_batch(states), masks)
        return [int(a) for a in np.where(masks, priors, -1.0).argmax(axis=1)]


def search_player(game: Game, evaluator: Evaluator, search: SearchConfig,
                  num_simulations: int, rng: np.random.Generator) -> MctsPlayer:
    """Evaluation-mode search at `num_simulations` (the [mcts] knobs otherwise)."""
    config = dataclasses.replace(search, num_simulations=num_simulations)
    return MctsPlayer(game, evaluator, config, rng)
