"""The gate: does a candidate beat the incumbent, with statistical evidence?

The games come in pairs: the same opening played once from each seat, which
cancels most of the first-mover advantage and of the opening's own bias. A
pair is won by the candidate when its two games score more than 1 (of 2), lost
when less, tied at exactly 1.

Test: a one-sided sign test over the decided pairs. Under H0 (the candidate is
no stronger) a decided pair is won with probability at most 1/2, so the
p-value is P(Binomial(won + lost, 1/2) >= won). The candidate passes when the
p-value is at most 1 - confidence. It is exact for any number of pairs (no
normal approximation, no variance estimate that a unanimous result would
break), and ties carry no evidence either way.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from cartridge.arena.match import GameResult


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    confidence: float
    games: int
    score: float  # the candidate's mean score over all games (wins + draws / 2) / games
    pairs_won: int
    pairs_lost: int
    pairs_tied: int
    p_value: float  # one-sided sign test

    def evidence(self) -> dict[str, Any]:
        """Everything the decision rests on, for the journal."""
        return asdict(self)


def gate_decision(results: Sequence[GameResult], confidence: float) -> GateDecision:
    """Decide from a match of the candidate (player A) against the incumbent."""
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
    by_opening: dict[tuple[int, ...], list[float]] = defaultdict(list)
    for result in results:
        by_opening[result.opening].append(result.score_a)
    won = lost = tied = 0
    for opening, scores in by_opening.items():
        if len(scores) != 2:
            raise ValueError(f"opening {opening}: {len(scores)} games, expected one per seat")
        total = sum(scores)
        won, lost, tied = won + (total > 1), lost + (total < 1), tied + (total == 1)
    p_value = sign_test_p_value(won, lost)
    score = sum(r.score_a for r in results) / len(results) if results else 0.0
    return GateDecision(
        passed=p_value <= 1 - confidence and won > lost, confidence=confidence,
        games=len(results), score=score, pairs_won=won, pairs_lost=lost, pairs_tied=tied,
        p_value=p_value)


def sign_test_p_value(won: int, lost: int) -> float:
    """P(X >= won) for X ~ Binomial(won + lost, 1/2); 1 when nothing was decided."""
    trials = won + lost
    if trials == 0:
        return 1.0
    tail = sum(math.comb(trials, k) for k in range(won, trials + 1))
    return tail / 2**trials
