"""An exponential moving average of the network's weights: what the trainer publishes
when [training] ema_decay > 0.

An annealed learning rate averages out the noise of the last steps, but only where the
schedule ends; a run judged (or stopped) mid-schedule publishes noisy weights. A moving
average does that averaging at every step, whatever the run's length.

The average covers every floating-point tensor of the state dict (weights and the
batch-norm running statistics), so the averaged network is consistent on its own;
integer buffers (batch norm's batch counters) are copied. The n-th update uses the
decay min(decay, (1 + n) / (10 + n)), so the average follows the network away from its
random initialisation instead of lingering there for 1 / (1 - decay) steps (0.999 is
reached after about 9,000 updates; before, the average spans roughly the last n / 9).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """A copy of `model` whose floating-point state tracks the model's moving average."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must lie in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        self.module.requires_grad_(False)
        self._model = model

    def restart(self) -> None:
        """Start the average over from the model's current state (a resumed checkpoint
        that holds none)."""
        self.updates = 0
        with torch.no_grad():
            for mine, theirs in self._pairs():
                mine.copy_(theirs)

    def update(self) -> None:
        """Move the average towards the model's current state: one call per optimiser step."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            for mine, theirs in self._pairs():
                if mine.is_floating_point():
                    mine.lerp_(theirs, 1.0 - decay)
                else:
                    mine.copy_(theirs)

    def state(self) -> dict[str, Any]:
        """The update count and the averaged state dict (on the CPU), for a checkpoint."""
        return {"updates": self.updates,
                "weights": {k: v.detach().cpu() for k, v in self.module.state_dict().items()}}

    def load(self, state: dict[str, Any]) -> None:
        """Restore what state() captured (the module keeps its own layout and device)."""
        self.updates = int(state["updates"])
        self.module.load_state_dict(state["weights"], strict=True)

    def _pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        # Looked up on every call, not kept: a tensor the model replaces (moved to another
        # device or layout, loaded with assign=True) would otherwise freeze the average.
        theirs = self._model.state_dict()
        return [(mine, theirs[name]) for name, mine in self.module.state_dict().items()]
