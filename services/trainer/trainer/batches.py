"""Replay samples -> augmented tensors ready for the optimiser (runs in the prefetch thread)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from cartridge.replay.base import ReplayStore
from cartridge.replay.sampling import sample_augmented


@dataclass(frozen=True)
class Batch:
    observations: torch.Tensor  # [B, C, H, W] float32
    legal_masks: torch.Tensor  # [B, A] bool
    policies: torch.Tensor  # [B, A] float32
    values: torch.Tensor  # [B] float32

    def to(self, device: torch.device) -> Batch:
        if device.type == "cpu":
            return self
        # Pinned source memory (see fetch_batch) makes these copies asynchronous.
        return Batch(*(t.to(device, non_blocking=True) for t in
                       (self.observations, self.legal_masks, self.policies, self.values)))


def fetch_batch(
    store: ReplayStore,
    env_id: str,
    *,
    batch_size: int,
    window: int,
    rng: np.random.Generator,
    pin_memory: bool = False,
) -> Batch:
    """A uniform sample from the newest `window` positions, one random board
    symmetry per sample (symmetric positions are valid training data for free)."""
    sample = sample_augmented(store, env_id, batch_size, window, rng)
    tensors = [
        torch.from_numpy(np.ascontiguousarray(sample.observations, dtype=np.float32)),
        torch.from_numpy(np.ascontiguousarray(sample.legal_masks, dtype=bool)),
        torch.from_numpy(np.ascontiguousarray(sample.policies, dtype=np.float32)),
        torch.from_numpy(np.ascontiguousarray(sample.values, dtype=np.float32)),
    ]
    if pin_memory:
        tensors = [t.pin_memory() for t in tensors]
    return Batch(*tensors)


class ReplaySampler:
    """The prefetch thread's fetch function: opens its own replay connection in that
    thread, so sampling never contends with the loop's stats() and trim() calls,
    and closes it there."""

    def __init__(self, open_replay: Callable[[], ReplayStore | None], env_id: str,
                 batch_size: int, window: int, rng: np.random.Generator,
                 pin_memory: bool) -> None:
        self._open = open_replay
        self._store: ReplayStore | None = None
        self._env_id, self._batch_size, self._window = env_id, batch_size, window
        self._rng, self._pin = rng, pin_memory

    def fetch(self) -> Batch:
        if self._store is None:
            self._store = self._open()
            if self._store is None:
                raise RuntimeError("the replay buffer disappeared")
        return fetch_batch(self._store, self._env_id, batch_size=self._batch_size,
                           window=self._window, rng=self._rng, pin_memory=self._pin)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
