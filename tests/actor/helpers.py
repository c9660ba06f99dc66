"""Helpers for the actor and end-to-end tests: models to publish, and reading games back
from the real SQLite replay store to check each one is a whole game."""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cartridge.config.settings import load_settings
from cartridge.games import get_game
from cartridge.modelstore import layout
from cartridge.modelstore.base import ModelInfo, ModelStore
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.replay.codec import decode

REPO = Path(__file__).resolve().parents[2]
TINY_NETWORK = {"kind": "mlp", "blocks": 1, "channels": 16}


def tiny_onnx(env_id: str = "tictactoe", seed: int = 0) -> bytes:
    """A small untrained network exported the way the trainer exports it."""
    import torch

    from cartridge.config.settings import NetworkConfig
    from cartridge.network import build_network, export_onnx

    torch.manual_seed(seed)
    config = NetworkConfig(**TINY_NETWORK)
    game = get_game(env_id)
    return export_onnx(build_network(game, config), game, config, step=seed)


def publish(store: ModelStore, onnx: bytes, step: int = 1) -> ModelInfo:
    return store.publish(onnx, b"checkpoint-" + str(step).encode(), step=step,
                         network=TINY_NETWORK)


def publish_corrupt_fs(store: FilesystemModelStore, onnx: bytes) -> int:
    """A new version whose meta.json and `latest` pointer are valid but whose
    model.onnx is damaged (as a bad disk or a truncated copy would leave it)."""
    version = max(store.versions(), default=0) + 1
    folder = store.game_dir / layout.version_name(version)
    folder.mkdir()
    info = layout.new_info(store.env_id, version, onnx, b"ck", step=version,
                           network=TINY_NETWORK)
    (folder / layout.ONNX_NAME).write_bytes(onnx[: len(onnx) // 2] + b"\0" * 16)
    (folder / layout.CHECKPOINT_NAME).write_bytes(b"ck")
    (folder / layout.META_NAME).write_bytes(layout.encode_info(info))
    (store.game_dir / "latest").write_bytes(layout.encode_pointer(info))
    return version


@dataclass(frozen=True)
class StoredGame:
    game_id: str
    actor_id: str
    num_positions: int
    move_numbers: list[int]
    model_versions: list[int]
    outcomes: np.ndarray
    observations: np.ndarray
    policies: np.ndarray


def read_games(db: Path, env_id: str = "tictactoe") -> list[StoredGame]:
    conn = sqlite3.connect(db)
    try:
        games = conn.execute(
            "SELECT game_id, actor_id, num_positions FROM replay_games WHERE env_id = ?",
            (env_id,)).fetchall()
        result = []
        for game_id, actor_id, count in games:
            rows = conn.execute(
                "SELECT move_number, model_version, outcome, observation, legal_mask, policy "
                "FROM replay_positions WHERE game_id = ? ORDER BY move_number",
                (game_id,)).fetchall()
            batch = decode(env_id, [r[3] for r in rows], [r[4] for r in rows],
                           [r[5] for r in rows], [r[2] for r in rows])
            result.append(StoredGame(game_id, actor_id, count, [r[0] for r in rows],
                                     [r[1] for r in rows], batch.values, batch.observations,
                                     batch.policies))
        return result
    finally:
        conn.close()


def config_opening_plies(env_id: str = "tictactoe") -> int:
    """The random opening config.toml starts env_id's self-play games with (0 = none)."""
    settings = load_settings(REPO / "config.toml", environ={})
    return settings.selfplay.opening_plies(env_id)


def whole_game_problem(stored: StoredGame, opening_plies: int,
                       env_id: str = "tictactoe") -> str | None:
    """None if the stored positions are one complete game, else what is wrong.

    A game may open with up to `opening_plies` random moves that are not stored
    ([selfplay] random_opening_plies): the first stored position must be reachable in
    that many moves, the game still on. From there each stored position must follow
    from the previous one by one legal move, and one legal move from the last must end
    the game with the stored outcome.
    """
    game = get_game(env_id)
    if len(stored.move_numbers) != stored.num_positions:
        return f"{len(stored.move_numbers)} positions stored, game says {stored.num_positions}"
    if stored.move_numbers != list(range(stored.num_positions)):
        return f"move numbers not contiguous from 0: {stored.move_numbers}"
    state = _openings(env_id, opening_plies).get(_key(stored.observations[0]))
    if state is None:
        return f"first position is not {opening_plies} or fewer moves from the start"
    for t in range(1, stored.num_positions):
        nexts = [game.apply(state, a) for a in game.legal_actions(state)]
        match = [s for s in nexts if np.array_equal(game.encode(s), stored.observations[t])]
        if not match or game.is_terminal(match[0]):
            return f"position {t} does not follow from position {t - 1}"
        state = match[0]
    last = stored.outcomes[-1]
    for action in game.legal_actions(state):
        child = game.apply(state, action)
        if game.is_terminal(child) and -game.terminal_value(child) == last:
            return None
    return f"no move ends the game from the last position with outcome {last}"


@functools.cache
def _openings(env_id: str, plies: int) -> dict[bytes, Any]:
    """Every position at most `plies` moves from the start with the game still on, by
    observation. Breadth first over distinct positions: small games only."""
    game = get_game(env_id)
    frontier = {_key(game.encode(game.initial_state())): game.initial_state()}
    reached = dict(frontier)
    for _ in range(plies):
        children = (game.apply(s, a) for s in frontier.values() for a in game.legal_actions(s))
        frontier = {_key(game.encode(c)): c for c in children if not game.is_terminal(c)}
        reached.update(frontier)
    return reached


def _key(observation: np.ndarray) -> bytes:
    return np.ascontiguousarray(observation, dtype=np.float32).tobytes()


def read_status(data_dir: Path) -> dict[str, dict]:
    """actor id -> its status file."""
    result = {}
    for path in (data_dir / "actors").glob("*.json"):
        try:
            result[path.stem] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    return result


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             alive: Callable[[], str | None] = lambda: None) -> None:
    """Poll until `condition()`; fail naming `what` (or a dead process) on timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        problem = alive()
        if problem:
            raise AssertionError(f"while waiting for {what}: {problem}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)
