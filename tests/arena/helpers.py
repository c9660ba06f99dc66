"""Real ONNX models for the arena tests, exported the way the trainer exports them."""

from __future__ import annotations

import numpy as np

from cartridge.games import get_game
from cartridge.inference.onnx import OnnxEvaluator
from tests.actor.helpers import tiny_onnx


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
