"""Helpers for the trainer tests: synthetic self-play games and config files."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import torch

from cartridge.games import get_game
from cartridge.replay.base import GameRecord
from trainer.batches import Batch

REPO = Path(__file__).resolve().parents[2]


def synthetic_game(env_id: str, rng: np.random.Generator) -> GameRecord:
    """A random legal game with random policy targets over the legal moves and the
    real outcome, encoded the way actors store it."""
    game = get_game(env_id)
    state = game.initial_state()
    observations, masks, policies, movers = [], [], [], []
    while not game.is_terminal(state):
        mask = game.legal_mask(state)
        policy = np.where(mask, rng.dirichlet(np.ones(game.num_actions)), 0.0)
        observations.append(game.encode(state))
        masks.append(mask)
        policies.append((policy / policy.sum()).astype(np.float32))
        movers.append(game.to_play(state))
        state = game.apply(state, int(rng.choice(np.flatnonzero(mask))))
    final_mover, final_value = game.to_play(state), game.terminal_value(state)
    outcomes = [final_value if m == final_mover else -final_value for m in movers]
    return GameRecord(
        game_id=uuid.uuid4().hex,
        env_id=env_id,
        actor_id="test",
        observations=np.stack(observations).astype(np.float32),
        legal_masks=np.stack(masks),
        policies=np.stack(policies),
        outcomes=np.asarray(outcomes, dtype=np.float32),
        model_versions=np.zeros(len(movers), dtype=np.int64),
    )


def write_config(path: Path, **training: object) -> Path:
    """The repository's config.toml with some [training] keys replaced."""
    lines = (REPO / "config.toml").read_text().splitlines()
    section = ""
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
        key = stripped.split("=")[0].strip() if "=" in stripped else None
        if section == "[training]" and key in training and not stripped.startswith("#"):
            value = training[key]
            line = f"{key} = {_toml(value)}"
        out.append(line)
    path.write_text("\n".join(out) + "\n")
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return f'"{value}"'
    return repr(value)


def fixed_batch(env_id: str, games: int, seed: int) -> Batch:
    """Every position of `games` synthetic games as one batch."""
    rng = np.random.default_rng(seed)
    records = [synthetic_game(env_id, rng) for _ in range(games)]
    return Batch(
        observations=torch.from_numpy(np.concatenate([r.observations for r in records])),
        legal_masks=torch.from_numpy(np.concatenate([r.legal_masks for r in records])),
        policies=torch.from_numpy(np.concatenate([r.policies for r in records])),
        values=torch.from_numpy(np.concatenate([r.outcomes for r in records])),
    )


def fill_replay(path: Path, env_id: str, games: int, seed: int = 0) -> int:
    """Append `games` synthetic games to the real SQLite replay store; returns its positions."""
    from cartridge.replay.sqlite import SqliteReplayStore

    rng = np.random.default_rng(seed)
    with SqliteReplayStore(path) as store:
        for _ in range(games):
            store.append_game(synthetic_game(env_id, rng))
        return store.stats(env_id).positions
