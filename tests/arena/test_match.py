"""Matches: every opening from both seats, results that add up, one batched search per ply."""

from __future__ import annotations

import numpy as np

from cartridge.arena.agents import PolicyPlayer, search_player
from cartridge.arena.anchors import make_anchor
from cartridge.arena.match import play_match_games, summarise
from cartridge.arena.openings import select_openings
from cartridge.games import get_game
from cartridge.mcts import SearchConfig
from tests.arena.helpers import CountingEvaluator, onnx_evaluator

TICTACTOE = get_game("tictactoe")
CONNECT4 = get_game("connect4")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_every_opening_is_played_from_both_seats() -> None:
    openings = select_openings("connect4", 5)
    results = play_match_games(CONNECT4, make_anchor("one-ply", CONNECT4, rng(1)),
                               make_anchor("random", CONNECT4, rng(2)), openings)
    assert [(r.opening, r.seat_a) for r in results] == [(o, s) for o in openings for s in (0, 1)]
    assert all(r.score_a in (0.0, 0.5, 1.0) and r.plies > 0 for r in results)
    record = summarise(results)
    assert record.games == 10 and record.wins + record.draws + record.losses == 10


def test_the_same_player_on_both_sides_scores_one_half_per_pair_of_perfect_games() -> None:
    # Perfect against perfect: every game ends at the opening's value, so each pair of
    # seats sums to exactly 1 (what one side wins as X it loses as O).
    perfect = make_anchor("perfect", TICTACTOE, rng(1))
    results = play_match_games(TICTACTOE, perfect, make_anchor("perfect", TICTACTOE, rng(2)),
                               select_openings("tictactoe", 0))
    for first, second in zip(results[::2], results[1::2], strict=True):
        assert first.opening == second.opening
        assert first.score_a + second.score_a == 1.0


def test_a_model_match_searches_all_games_in_one_batch_per_simulation() -> None:
    config = SearchConfig(num_simulations=8)

    def inference_calls(openings: int) -> int:
        a = CountingEvaluator(onnx_evaluator(seed=1))
        b = CountingEvaluator(onnx_evaluator(seed=2))
        play_match_games(TICTACTOE, search_player(TICTACTOE, a, config, 8, rng(1)),
                         search_player(TICTACTOE, b, config, 8, rng(2)),
                         select_openings("tictactoe", openings))
        return a.calls + b.calls

    one, many = inference_calls(1), inference_calls(36)
    # 36x the games; one game at a time would take ~36x the calls. Batched, the calls
    # grow only with the longest game (at most 7 plies after the opening).
    assert many < 2 * one


def test_the_network_alone_plays_its_policy_argmax() -> None:
    evaluator = onnx_evaluator(seed=3)
    state = TICTACTOE.apply_all([4])
    priors, _ = evaluator.evaluate(TICTACTOE.encode_batch([state]),
                                   TICTACTOE.legal_mask_batch([state]))
    assert PolicyPlayer(TICTACTOE, evaluator).choose([state]) == [int(priors[0].argmax())]
    assert priors[0][4] == 0  # the occupied cell is never chosen
