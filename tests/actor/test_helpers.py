"""whole_game_problem, which the actor and end-to-end tests trust to find a broken game."""

from __future__ import annotations

import numpy as np

from cartridge.games import get_game
from tests.actor.helpers import StoredGame, whole_game_problem

TOP_ROW_WIN = [0, 3, 1, 4, 2]  # X takes the top row on the fifth move


def stored(actions: list[int], first: int, skip: int | None = None) -> StoredGame:
    """The tic-tac-toe game of these moves stored from move `first` on (the moves before
    it unrecorded, as a random opening's), leaving out position `skip` if given."""
    game = get_game("tictactoe")
    states = [game.initial_state()]
    for action in actions:
        states.append(game.apply(states[-1], action))
    kept = [s for i, s in enumerate(states[:-1]) if i >= first and i != skip]
    # The mover of the last stored position made the winning move: outcome +1 there.
    outcomes = np.array([(-1.0) ** (len(kept) - 1 - i) for i in range(len(kept))])
    return StoredGame("g", "a", len(kept), list(range(len(kept))), [0] * len(kept),
                      outcomes, np.stack([game.encode(s) for s in kept]),
                      np.zeros((len(kept), 9), np.float32))


def test_a_whole_game_from_the_start_or_after_an_allowed_opening_passes() -> None:
    assert whole_game_problem(stored(TOP_ROW_WIN, first=0), opening_plies=0) is None
    assert whole_game_problem(stored(TOP_ROW_WIN, first=3), opening_plies=4) is None


def test_an_opening_longer_than_allowed_is_found() -> None:
    problem = whole_game_problem(stored(TOP_ROW_WIN, first=3), opening_plies=2)
    assert problem == "first position is not 2 or fewer moves from the start"


def test_a_missing_position_is_found() -> None:
    problem = whole_game_problem(stored(TOP_ROW_WIN, first=0, skip=2), opening_plies=4)
    assert problem == "position 2 does not follow from position 1"
