"""What search asks of a network, and the network-free evaluator used before any model exists."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Evaluator(Protocol):
    """Batch evaluation of positions.

    `model_version` is the published version that produced the numbers (0 for
    the uniform evaluator), recorded with every self-play position.
    """

    model_version: int

    def evaluate(
        self, observations: np.ndarray, legal_masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """observations [B, C, H, W] float32, legal_masks [B, A] bool ->
        priors [B, A] float32 (zero on illegal actions, rows sum to 1),
        values [B] float32 in [-1, 1] for the side to move."""
        ...


def masked_softmax(logits: np.ndarray, legal_masks: np.ndarray) -> np.ndarray:
    """Softmax over legal actions only; rows with no legal action stay all zero."""
    masked = np.where(legal_masks, logits, -np.inf)
    peak = masked.max(axis=1, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    exp = np.exp(masked - peak)
    total = exp.sum(axis=1, keepdims=True)
    return (exp / np.where(total > 0, total, 1.0)).astype(np.float32)


class UniformEvaluator:
    """Uniform priors over legal actions and value 0: for tests and bootstrap."""

    model_version = 0

    def evaluate(
        self, observations: np.ndarray, legal_masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        counts = legal_masks.sum(axis=1, keepdims=True)
        priors = legal_masks / np.maximum(counts, 1)
        return priors.astype(np.float32), np.zeros(len(legal_masks), dtype=np.float32)
