"""Search knobs, with the AlphaZero paper's meaning (see config.toml [mcts])."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    num_simulations: int = 200  # new simulations per search (reused visits come on top)
    c_puct: float = 1.5  # U(s,a) = c_puct * P(s,a) * sqrt(sum_b N(s,b)) / (1 + N(s,a))
    dirichlet_alpha: float = 1.0  # root noise Dir(alpha), self-play only
    dirichlet_epsilon: float = 0.25  # P_root = (1 - eps) P + eps * noise
    temp_threshold: int = 15  # plies sampled at temperature 1, then the most visited move
    fpu_reduction: float = 0.25  # unvisited child: Q = V(parent) - fpu_reduction

    def __post_init__(self) -> None:
        if self.num_simulations < 1:
            raise ValueError(f"num_simulations must be >= 1, got {self.num_simulations}")

    @classmethod
    def from_settings(cls, section: Any) -> SearchConfig:
        """From the [mcts] settings section (a pydantic model with the same keys)."""
        return cls(**section.model_dump())
