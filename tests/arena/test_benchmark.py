"""Tic-tac-toe perfect-play benchmark: 4,520 positions; perfect scores all, others fewer."""

from __future__ import annotations

import numpy as np

from cartridge.arena.agents import PolicyPlayer, search_player
from cartridge.arena.anchors import make_anchor
from cartridge.arena.benchmark import TICTACTOE_POSITIONS, tictactoe_benchmark, tictactoe_positions
from cartridge.games import get_game
from cartridge.mcts import SearchConfig
from tests.arena.helpers import onnx_evaluator

TICTACTOE = get_game("tictactoe")


def test_there_are_4520_distinct_non_terminal_positions() -> None:
    positions = tictactoe_positions()
    assert len(positions) == TICTACTOE_POSITIONS
    assert len({TICTACTOE.key(s) for s in positions}) == TICTACTOE_POSITIONS
    assert not any(TICTACTOE.is_terminal(s) for s in positions)


def test_the_perfect_player_keeps_every_value_and_never_loses() -> None:
    result = tictactoe_benchmark(make_anchor("perfect", TICTACTOE, np.random.default_rng(0)))
    assert result.value_kept == result.positions == TICTACTOE_POSITIONS
    assert result.value_kept_share == 1.0 and result.losses == 0


def test_a_random_player_loses_value_and_games() -> None:
    result = tictactoe_benchmark(make_anchor("random", TICTACTOE, np.random.default_rng(0)))
    assert 0.3 < result.value_kept_share < 0.95
    assert result.losses > 0


def test_search_improves_an_untrained_network() -> None:
    evaluator = onnx_evaluator(seed=5)
    alone = tictactoe_benchmark(PolicyPlayer(TICTACTOE, evaluator))
    searched = tictactoe_benchmark(search_player(TICTACTOE, evaluator, SearchConfig(), 64,
                                                 np.random.default_rng(0)))
    assert searched.value_kept > alone.value_kept
    assert searched.losses < alone.losses
