"""Search knobs, with the papers' meaning (see config.toml [mcts])."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ALGORITHMS = ("puct", "gumbel")


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    num_simulations: int = 200  # new simulations per search (reused visits come on top)
    c_puct: float = 1.5  # U(s,a) = c_puct * P(s,a) * sqrt(sum_b N(s,b)) / (1 + N(s,a))
    dirichlet_alpha: float = 1.0  # root noise Dir(alpha), self-play only (PUCT)
    dirichlet_epsilon: float = 0.25  # P_root = (1 - eps) P + eps * noise (PUCT)
    temp_threshold: int = 15  # plies sampled at temperature 1, then the most visited (PUCT)
    fpu_reduction: float = 0.25  # unvisited child: Q = V(parent) - fpu_reduction (PUCT)
    algorithm: str = "puct"  # "puct" (AlphaZero) | "gumbel" (Danihelka et al. 2022)
    gumbel_considered: int = 16  # m: root actions sampled by Gumbel-top-k
    gumbel_c_visit: float = 50.0  # sigma(q) = (c_visit + max_b N(b)) * c_scale * q
    gumbel_c_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.num_simulations < 1:
            raise ValueError(f"num_simulations must be >= 1, got {self.num_simulations}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, "
                             f"got {self.algorithm!r}")
        if self.gumbel_considered < 1:
            raise ValueError(f"gumbel_considered must be >= 1, got {self.gumbel_considered}")
        if self.gumbel_c_visit < 0:
            raise ValueError(f"gumbel_c_visit must be >= 0, got {self.gumbel_c_visit}")
        if self.gumbel_c_scale <= 0:
            raise ValueError(f"gumbel_c_scale must be > 0, got {self.gumbel_c_scale}")

    @classmethod
    def from_settings(cls, section: Any) -> SearchConfig:
        """From the [mcts] settings section (a pydantic model with the same keys)."""
        return cls(**section.model_dump())
