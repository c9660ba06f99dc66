"""The search the [mcts] algorithm key names, built for a batch of game slots."""

from __future__ import annotations

import numpy as np

from cartridge.games.base import Game
from cartridge.inference.base import Evaluator
from cartridge.mcts.config import SearchConfig
from cartridge.mcts.gumbel import GumbelMcts
from cartridge.mcts.search import BatchedMcts

SEARCHES: dict[str, type[BatchedMcts]] = {"puct": BatchedMcts, "gumbel": GumbelMcts}


def make_search(
    game: Game,
    evaluator: Evaluator,
    config: SearchConfig,
    *,
    num_slots: int,
    rng: np.random.Generator,
    add_noise: bool,
) -> BatchedMcts:
    """PUCT or Gumbel trees for `num_slots` games; `add_noise` (root exploration noise:
    Dirichlet for PUCT, Gumbel for Gumbel) in self-play only."""
    return SEARCHES[config.algorithm](game, evaluator, config, num_slots=num_slots, rng=rng,
                                      add_noise=add_noise)
