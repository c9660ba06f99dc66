"""The perfect Connect Four anchor (BitBully, a dev dependency and an optional extra)."""

from __future__ import annotations

import numpy as np
import pytest
from bitbully import Board

from cartridge.arena.anchors import make_anchor
from cartridge.arena.connect4_benchmark import connect4_benchmark, load_labelled_positions
from cartridge.arena.connect4_solver import SolverPlayer, columns
from cartridge.games import get_game
from tests.arena.test_connect4_benchmark import PONS

CONNECT4 = get_game("connect4")


def test_the_board_reaches_the_solver_as_played() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        state, moves = CONNECT4.initial_state(), []
        for _ in range(int(rng.integers(0, 30))):
            if CONNECT4.is_terminal(state):
                break
            move = int(rng.choice(CONNECT4.legal_actions(state)))
            state, moves = CONNECT4.apply(state, move), [*moves, move]
        assert Board(columns(state)) == Board(moves), moves


@pytest.mark.skipif(not PONS.exists(), reason="the shared Pons benchmark is not here")
def test_the_solver_anchor_never_throws_an_outcome_away_on_pons_positions() -> None:
    positions = load_labelled_positions(PONS)[::20]  # every set, 271 positions
    result = connect4_benchmark(make_anchor("perfect", CONNECT4, np.random.default_rng(0)),
                                positions)
    assert result["all"].positions == len(positions)
    assert result["all"].mistakes == 0


def test_the_solver_anchor_never_loses_to_one_ply() -> None:
    from cartridge.arena.match import play_match_games, summarise
    from cartridge.arena.openings import select_openings

    results = play_match_games(CONNECT4, SolverPlayer(np.random.default_rng(1)),
                               make_anchor("one-ply", CONNECT4, np.random.default_rng(2)),
                               select_openings("connect4", 4))
    assert summarise(results).losses == 0
