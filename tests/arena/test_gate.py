"""The gate: a one-sided sign test over paired games, with its evidence."""

from __future__ import annotations

import pytest

from cartridge.arena.gate import gate_decision, sign_test_p_value
from cartridge.arena.match import GameResult


def pairs(*scores: tuple[float, float]) -> list[GameResult]:
    """One opening per pair: (score as seat 0, score as seat 1)."""
    return [GameResult((i,), seat, score, 5)
            for i, pair in enumerate(scores) for seat, score in enumerate(pair)]


def test_sign_test_p_values_are_binomial_tails() -> None:
    assert sign_test_p_value(0, 0) == 1.0
    assert sign_test_p_value(5, 0) == 1 / 32
    assert sign_test_p_value(8, 2) == pytest.approx(56 / 1024)
    assert sign_test_p_value(0, 3) == 1.0


def test_a_candidate_that_wins_every_pair_passes_with_enough_pairs() -> None:
    decision = gate_decision(pairs(*[(1.0, 1.0)] * 6), confidence=0.95)
    assert decision.passed and decision.pairs_won == 6 and decision.p_value == 1 / 64
    assert decision.score == 1.0 and decision.games == 12
    assert gate_decision(pairs(*[(1.0, 1.0)] * 4), confidence=0.95).passed is False  # 1/16


def test_winning_only_with_the_first_move_is_no_evidence() -> None:
    # Each side wins as the first player: every pair is tied.
    decision = gate_decision(pairs(*[(1.0, 0.0)] * 40), confidence=0.95)
    assert not decision.passed and decision.pairs_tied == 40 and decision.p_value == 1.0
    assert decision.score == 0.5


def test_draws_count_half_in_a_pair() -> None:
    decision = gate_decision(pairs((1.0, 0.5), (0.5, 0.5), (0.5, 0.0)), confidence=0.9)
    assert (decision.pairs_won, decision.pairs_tied, decision.pairs_lost) == (1, 1, 1)


def test_higher_confidence_needs_more_evidence() -> None:
    results = pairs(*[(1.0, 1.0)] * 9, (0.0, 0.0))  # 9 of 10 pairs won: p = 11/1024
    assert gate_decision(results, confidence=0.95).passed
    assert not gate_decision(results, confidence=0.995).passed


def test_evidence_holds_the_statistic_and_the_counts() -> None:
    evidence = gate_decision(pairs((1.0, 1.0)), confidence=0.95).evidence()
    assert evidence["p_value"] == 0.5 and evidence["games"] == 2 and evidence["passed"] is False


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="confidence"):
        gate_decision(pairs((1.0, 1.0)), confidence=1.0)
    with pytest.raises(ValueError, match="expected one per seat"):
        gate_decision([GameResult((0,), 0, 1.0, 5)], confidence=0.95)
