"""The rows the journal stores and returns, as plain frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GameRow:
    opening: tuple[int, ...]
    seat_a: int  # 0: player A played the first player's side
    score_a: float  # 1, 0.5, 0
    plies: int


@dataclass(frozen=True)
class MatchRecord:
    """A whole match; written with all its games in one transaction, or not at all."""

    env_id: str
    match_key: str  # unique per env_id: recording the same key again changes nothing
    purpose: str  # rating | gate
    player_a: str
    player_b: str
    num_simulations: int
    games: tuple[GameRow, ...]
    played_at: float

    @property
    def wins(self) -> int:
        return sum(g.score_a == 1 for g in self.games)

    @property
    def losses(self) -> int:
        return sum(g.score_a == 0 for g in self.games)

    @property
    def draws(self) -> int:
        return len(self.games) - self.wins - self.losses


@dataclass(frozen=True)
class PairTotals:
    """All recorded games between two players, from A's side."""

    player_a: str
    player_b: str
    games: int
    score_a: float  # wins + draws / 2


@dataclass(frozen=True)
class RatingRow:
    player: str
    version: int | None  # None for anchors
    step: int | None
    elo: float
    interval: float  # 95% half-width
    games: int
    fitted_at: float = 0.0


@dataclass(frozen=True)
class BenchmarkRow:
    env_id: str
    version: int
    benchmark: str
    mode: str  # network | search
    num_simulations: int
    score: float
    figures: dict[str, Any] = field(default_factory=dict)
    recorded_at: float = 0.0


@dataclass(frozen=True)
class GateRow:
    env_id: str
    candidate: int
    incumbent: str
    match_key: str
    passed: bool
    games: int
    score: float
    p_value: float
    evidence: dict[str, Any]
    decided_at: float


@dataclass(frozen=True)
class PromotionRow:
    env_id: str
    version: int
    previous_best: int | None
    promoted_at: float


@dataclass(frozen=True)
class TrainingRow:
    env_id: str
    step: int
    total_loss: float
    policy_loss: float
    value_loss: float
    learning_rate: float
    samples_per_s: float
    model_version: int | None
    replay_positions: int
    replay_games: int
    replay_added: int
    ratio_wait_share: float
    recorded_at: float


@dataclass(frozen=True)
class Heartbeat:
    actor_id: str
    env_id: str
    model_version: int
    games: int
    positions: int
    positions_per_s: float
    started_at: float
    updated_at: float
