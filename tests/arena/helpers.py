"""Helpers for the arena tests: real ONNX models, exported the way the trainer exports them,
and Connect Four positions labelled by an exact negamax written for the tests."""

from __future__ import annotations

from functools import cache

import numpy as np

from cartridge.games import get_game
from cartridge.inference.onnx import OnnxEvaluator
from tests.actor.helpers import tiny_onnx

CONNECT4 = get_game("connect4")


class CountingEvaluator:
    """A real evaluator that counts its inference calls (to measure batching)."""

    def __init__(self, inner: OnnxEvaluator) -> None:
        self.inner, self.calls = inner, 0
        self.model_version = inner.model_version

    def evaluate(self, observations: np.ndarray,
                 legal_masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        return self.inner.evaluate(observations, legal_masks)


def onnx_evaluator(env_id: str = "tictactoe", seed: int = 0, version: int = 1) -> OnnxEvaluator:
    return OnnxEvaluator(tiny_onnx(env_id, seed), game=get_game(env_id), model_version=version,
                         provider="cpu", intra_op_threads=1)


@cache
def outcome(actions: tuple[int, ...]) -> int:
    """Game-theoretic outcome for the side to move: 1, 0, -1 (exact, memoised)."""
    state = CONNECT4.apply_all(list(actions))
    if CONNECT4.is_terminal(state):
        return int(CONNECT4.terminal_value(state))
    return max(-outcome((*actions, a)) for a in CONNECT4.legal_actions(state))


def late_positions(count: int, seed: int) -> list[dict]:
    """Decisive positions at ply 34-36, every move labelled by `outcome`."""
    rng = np.random.default_rng(seed)
    records: list[dict] = []
    while len(records) < count:
        state, actions = CONNECT4.initial_state(), []
        for _ in range(int(rng.integers(34, 37))):
            if CONNECT4.is_terminal(state):
                break
            action = int(rng.choice(CONNECT4.legal_actions(state)))
            actions.append(action)
            state = CONNECT4.apply(state, action)
        if CONNECT4.is_terminal(state):
            continue
        legal = CONNECT4.legal_actions(state)
        scores = {str(c + 1): (-outcome((*actions, c)) if c in legal else None)
                  for c in range(7)}
        if len({s for s in scores.values() if s is not None}) > 1:
            best = max(s for s in scores.values() if s is not None)
            records.append({"moves": "".join(str(a + 1) for a in actions),
                            "to_move_score": best, "move_scores": scores,
                            "optimal_moves": [int(c) for c, s in scores.items() if s == best],
                            "ply": len(actions), "set": "late"})
    return records
