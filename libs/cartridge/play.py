"""One-position search in evaluation mode: the agent's move, value and policy.

Shared by `cartridge move` and the web service's play API. Evaluation mode: no root
noise; PUCT plays the most visited move (ties at random) and reports the visit
distribution, Gumbel plays its halving winner and reports its improved policy.
Positions are searched together, one inference call per simulation for all of them,
in batches bounded by tree memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from cartridge.games import Game
from cartridge.inference import Evaluator
from cartridge.mcts import SearchConfig, choose_actions, make_search

log = logging.getLogger(__name__)
BATCH = 256  # positions searched together (one inference call per simulation)
# Tree entries (slots x nodes x actions, ~17 bytes each) one batch may allocate: a big
# simulation count searches fewer positions at a time instead of exhausting memory.
MAX_TREE_ENTRIES = 16_000_000


@dataclass(frozen=True)
class Answer:
    actions: list[int]
    action: int
    value: float
    policy: list[float]

    def to_json(self) -> dict[str, Any]:
        return {"actions": self.actions, "action": self.action,
                "value": round(self.value, 4), "policy": [round(p, 4) for p in self.policy]}


def answer_positions(
    game: Game, evaluator: Evaluator, config: SearchConfig, lines: list[list[int]],
    rng: np.random.Generator,
) -> list[Answer]:
    """Search every (legal, unfinished) position; the search's move (module docstring)."""
    answers: list[Answer] = []
    per_slot = 2 * (config.num_simulations + 1) * game.num_actions
    batch = max(1, min(BATCH, MAX_TREE_ENTRIES // per_slot))
    for start in range(0, len(lines), batch):
        chunk = lines[start:start + batch]
        mcts = make_search(game, evaluator, config, num_slots=len(chunk), rng=rng,
                           add_noise=False)
        for slot, actions in enumerate(chunk):
            mcts.reset(slot, game.apply_all(actions))
        result = mcts.search()
        chosen = result.actions
        if chosen is None:
            chosen = choose_actions(result.visits, np.full(len(chunk), config.temp_threshold),
                                    config.temp_threshold, rng)
        for row, actions in enumerate(chunk):
            answers.append(Answer(actions, int(chosen[row]), float(result.root_values[row]),
                                  result.visits[row].tolist()))
        if len(lines) > batch:
            log.info("answered %d/%d positions", len(answers), len(lines))
    return answers
