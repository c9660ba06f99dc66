"""Row encoding shared by the backends: validation and compact, vectorised (de)coding.

Observation planes are 0/1 (every game's encoder writes stone planes), so they are
bit-packed: a Connect Four position is 11 bytes instead of 336. Legal masks are
bit-packed too; policies stay float32. Decoding a batch is a handful of numpy
calls over one concatenated buffer, never a Python loop over elements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cartridge.games import get_game
from cartridge.replay.base import GameRecord, SampledBatch


class InvalidGameError(ValueError):
    """A malformed game record; the message names the game id, env id and actor."""


@dataclass(frozen=True)
class EncodedGame:
    """One game's positions as per-row bytes, ready for an INSERT or COPY."""

    observations: list[bytes]  # [T] bit-packed planes
    legal_masks: list[bytes]  # [T] bit-packed mask
    policies: list[bytes]  # [T] float32 bytes
    outcomes: list[float]  # [T]
    model_versions: list[int]  # [T]


def validate(game: GameRecord) -> None:
    """Raise InvalidGameError unless every array matches the game's shapes."""

    def fail(problem: str) -> InvalidGameError:
        return InvalidGameError(
            f"rejected game {game.game_id!r} (env {game.env_id!r}) from actor "
            f"{game.actor_id!r}: {problem}"
        )

    try:
        rules = get_game(game.env_id)
    except ValueError as err:
        raise fail(str(err)) from None
    if not game.game_id or not game.actor_id:
        raise fail("game_id and actor_id must be non-empty")
    count = game.num_positions
    if count == 0:
        raise fail("a game needs at least one position")
    expected = {
        "observations": (count, *rules.observation_shape),
        "legal_masks": (count, rules.num_actions),
        "policies": (count, rules.num_actions),
        "outcomes": (count,),
        "model_versions": (count,),
    }
    for name, shape in expected.items():
        actual = np.shape(getattr(game, name))
        if actual != shape:
            raise fail(f"{name} has shape {actual}, expected {shape}")
    observations = np.asarray(game.observations)
    if not np.isin(observations, (0, 1)).all():
        raise fail("observations must be 0/1 planes")
    if not np.isfinite(np.asarray(game.policies, dtype=np.float32)).all():
        raise fail("policies contain NaN or infinity")
    outcomes = np.asarray(game.outcomes, dtype=np.float32)
    if not (np.abs(outcomes) <= 1).all():
        raise fail("outcomes must lie in [-1, 1]")


def encode(game: GameRecord) -> EncodedGame:
    """Validate and convert one game into per-position bytes."""
    validate(game)
    count = game.num_positions
    obs = np.packbits(np.asarray(game.observations).reshape(count, -1).astype(np.uint8), axis=1)
    masks = np.packbits(np.asarray(game.legal_masks, dtype=bool), axis=1)
    policies = np.ascontiguousarray(game.policies, dtype=np.float32)
    return EncodedGame(
        observations=[row.tobytes() for row in obs],
        legal_masks=[row.tobytes() for row in masks],
        policies=[row.tobytes() for row in policies],
        outcomes=np.asarray(game.outcomes, dtype=np.float32).tolist(),
        model_versions=np.asarray(game.model_versions, dtype=np.int64).tolist(),
    )


def decode(
    env_id: str,
    observations: Sequence[bytes],
    legal_masks: Sequence[bytes],
    policies: Sequence[bytes],
    outcomes: Sequence[float],
) -> SampledBatch:
    """Rows fetched from a backend (in sample order) -> a SampledBatch."""
    rules = get_game(env_id)
    count = len(outcomes)
    planes = int(np.prod(rules.observation_shape))
    obs_bits = np.frombuffer(b"".join(observations), dtype=np.uint8).reshape(count, -1)
    obs = np.unpackbits(obs_bits, axis=1, count=planes).astype(np.float32)
    mask_bits = np.frombuffer(b"".join(legal_masks), dtype=np.uint8).reshape(count, -1)
    masks = np.unpackbits(mask_bits, axis=1, count=rules.num_actions).astype(bool)
    pols = np.frombuffer(b"".join(policies), dtype=np.float32).reshape(count, rules.num_actions)
    return SampledBatch(
        observations=obs.reshape(count, *rules.observation_shape),
        legal_masks=masks,
        policies=pols.copy(),
        values=np.asarray(outcomes, dtype=np.float32),
    )
