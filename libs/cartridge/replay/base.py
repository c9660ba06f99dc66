"""The replay buffer interface every backend implements (SQLite, PostgreSQL).

Positions get a per-game-id (env id) increasing sequence number when their
game is appended; "the newest `window` positions" means the highest sequence
numbers, which lets backends sample by picking random sequence numbers (no
`ORDER BY random()`, no `COUNT(*)` per step).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class GameRecord:
    """One finished self-play game, appended atomically (all positions or none).

    `game_id` is globally unique (a UUID4 hex string): appending the same game
    twice is a no-op, so a writer may retry after a lost acknowledgement.
    """

    game_id: str
    env_id: str
    actor_id: str
    observations: np.ndarray  # [T, C, H, W] float32, side to move's view
    legal_masks: np.ndarray  # [T, A] bool
    policies: np.ndarray  # [T, A] float32, search target: PUCT visits, Gumbel improved policy
    outcomes: np.ndarray  # [T] float32, final result from the mover's point of view
    model_versions: np.ndarray  # [T] int64, model that played each position
    created_at: float = 0.0  # unix seconds; 0 = "now" at append time

    @property
    def num_positions(self) -> int:
        return len(self.outcomes)


@dataclass(frozen=True)
class SampledBatch:
    observations: np.ndarray  # [B, C, H, W] float32
    legal_masks: np.ndarray  # [B, A] bool
    policies: np.ndarray  # [B, A] float32
    values: np.ndarray  # [B] float32


@dataclass(frozen=True)
class ReplayStats:
    positions: int  # positions currently stored
    games: int  # games currently stored
    total_positions: int  # positions ever appended (monotonic; drives the train/data ratio)
    oldest_created_at: float | None = None
    newest_created_at: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


class ReplayStore(abc.ABC):
    """A replay buffer shared by many writers (actors) and one reader (trainer)."""

    @abc.abstractmethod
    def append_game(self, game: GameRecord) -> bool:
        """Store the whole game in one transaction. False if `game_id` was already stored."""

    @abc.abstractmethod
    def sample(
        self, env_id: str, batch_size: int, window: int, rng: np.random.Generator
    ) -> SampledBatch:
        """Uniform sample (with replacement) from the newest `window` positions of `env_id`.

        No augmentation here: callers apply symmetries (games.augment).
        Raises EmptyReplayError when `env_id` has no positions.
        """

    @abc.abstractmethod
    def stats(self, env_id: str) -> ReplayStats: ...

    @abc.abstractmethod
    def trim(self, env_id: str, capacity: int) -> int:
        """Delete positions older than the newest `capacity`; returns how many went."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> ReplayStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EmptyReplayError(LookupError):
    """Sampling from a replay buffer that holds no positions for the game."""


class ReplayConnectionError(RuntimeError):
    """The replay database cannot be used (wrong URL, password, database, permission);
    the message names host and database, never the password. Not worth retrying."""


class ReplayUnavailableError(ReplayConnectionError):
    """The replay database cannot be reached right now (down, restarting): retry later."""
