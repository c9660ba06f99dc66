"""The fixed opening positions every arena match starts from.

A match between two deterministic agents from the empty board would be one game
repeated; starting from many distinct positions (each played from both seats)
makes every game count. The sets are fixed forever, so results recorded today
and next month measure the same thing:

- tictactoe: all 72 two-ply openings (every first move, every reply);
- connect4:  all 49 two-ply openings (every column, every reply);
- othello:   24 distinct four-ply openings drawn by uniformly random play from
  a fixed seed (OTHELLO_SEED); the first-drawn come first.

An opening is the tuple of actions from the initial state.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from cartridge.games import get_game

Opening = tuple[int, ...]

OTHELLO_SEED = 20261129
OTHELLO_OPENINGS = 24
OTHELLO_PLIES = 4


@cache
def openings(env_id: str) -> tuple[Opening, ...]:
    """The opening set of a game, in its fixed order."""
    if env_id in ("tictactoe", "connect4"):
        return _all_openings(env_id, plies=2)
    if env_id == "othello":
        return _random_openings(env_id, OTHELLO_OPENINGS, OTHELLO_PLIES, OTHELLO_SEED)
    raise ValueError(f"no opening set for game {env_id!r}")


def select_openings(env_id: str, limit: int) -> tuple[Opening, ...]:
    """At most `limit` openings (0 = all), spread evenly over the set rather than its
    start, so a short match still covers different first moves."""
    every = openings(env_id)
    if limit <= 0 or limit >= len(every):
        return every
    picks = np.linspace(0, len(every) - 1, num=limit).round().astype(int)
    return tuple(every[i] for i in picks)


def _all_openings(env_id: str, plies: int) -> tuple[Opening, ...]:
    game = get_game(env_id)
    result: list[Opening] = [()]
    for _ in range(plies):
        result = [(*opening, action) for opening in result
                  for action in game.legal_actions(game.apply_all(list(opening)))]
    return tuple(result)


def _random_openings(env_id: str, count: int, plies: int, seed: int) -> tuple[Opening, ...]:
    game = get_game(env_id)
    rng = np.random.default_rng(seed)
    found: dict[Opening, None] = {}  # insertion-ordered set
    while len(found) < count:
        state, actions = game.initial_state(), []
        for _ in range(plies):
            action = int(rng.choice(game.legal_actions(state)))
            actions.append(action)
            state = game.apply(state, action)
        found.setdefault(tuple(actions), None)
    return tuple(found)
