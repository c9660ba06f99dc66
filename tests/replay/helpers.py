"""Synthetic games for replay tests: valid shapes, and positions that say who they are."""

from __future__ import annotations

import uuid

import numpy as np

from cartridge.games import get_game
from cartridge.replay import GameRecord


def make_game(env_id: str, positions: int, rng: np.random.Generator, *, actor_id: str = "actor-1",
              outcome: float | None = None, first_id: int | None = None,
              created_at: float = 0.0) -> GameRecord:
    """A random valid game. With `first_id`, position i's observation encodes first_id + i
    (read it back with position_ids), so tests can tell which positions were sampled."""
    rules = get_game(env_id)
    shape = (positions, *rules.observation_shape)
    obs = (rng.random(shape) < 0.3).astype(np.float32)
    if first_id is not None:
        flat = obs.reshape(positions, -1)
        flat[:] = 0
        ids = np.arange(first_id, first_id + positions)
        flat[:, :16] = (ids[:, None] >> np.arange(16)) & 1
    policies = rng.random((positions, rules.num_actions)).astype(np.float32)
    policies /= policies.sum(axis=1, keepdims=True)
    outcomes = (np.full(positions, outcome) if outcome is not None
                else rng.choice([-1.0, 0.0, 1.0], positions)).astype(np.float32)
    return GameRecord(
        game_id=uuid.uuid4().hex, env_id=env_id, actor_id=actor_id, observations=obs,
        legal_masks=rng.random((positions, rules.num_actions)) < 0.7, policies=policies,
        outcomes=outcomes, model_versions=np.full(positions, 3, dtype=np.int64),
        created_at=created_at,
    )


def position_ids(observations: np.ndarray) -> np.ndarray:
    """The ids written by make_game(first_id=...), one per sampled observation."""
    bits = observations.reshape(len(observations), -1)[:, :16].astype(np.int64)
    return (bits << np.arange(16)).sum(axis=1)
