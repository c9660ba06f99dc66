"""The last observations the trainer trained on: calibration data for the int8 model.

Static int8 quantization needs each activation's range on positions like the ones
the model will see; the newest training batches are such positions (self-play of
recent models, one random symmetry each). Batches are kept by reference (the
sampler makes new CPU tensors for every batch), so adding one costs nothing.
"""

from __future__ import annotations

import collections

import numpy as np
import torch

# Observations the int8 model is calibrated on.
CALIBRATION_POSITIONS = 512


class RecentObservations:
    """Holds the newest batches until they cover `capacity` observations."""

    def __init__(self, capacity: int = CALIBRATION_POSITIONS) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._batches: collections.deque[torch.Tensor] = collections.deque()
        self._held = 0

    def add(self, observations: torch.Tensor) -> None:
        """A training batch's observations [B, C, H, W], before they move to the device."""
        self._batches.append(observations)
        self._held += len(observations)
        while self._held - len(self._batches[0]) >= self.capacity:
            self._held -= len(self._batches.popleft())

    def latest(self) -> np.ndarray:
        """The newest min(capacity, held) observations as float32 [N, C, H, W]."""
        if not self._batches:
            raise ValueError("no observations yet: train a step first")
        newest = torch.cat(list(self._batches))[-self.capacity:]
        return newest.detach().to("cpu", torch.float32).numpy()
