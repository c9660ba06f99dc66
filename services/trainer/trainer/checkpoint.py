"""The full training state as bytes: what a restarted trainer needs to carry on
exactly where the last checkpoint left off.

Model and optimiser state, the step (which is all the learning rate schedule
depends on, see schedule.py), the random number generator states and, with
[training] ema_decay, the moving average of the weights (averaging.py). Loaded
with `weights_only=True`: a checkpoint holds tensors and plain values, never
pickled code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from cartridge.config.settings import network_with_defaults
from trainer.averaging import WeightAverage

# 2 adds the weights' moving average; a checkpoint without one is still written as 1,
# which trainers from before ema_decay read.
FORMAT = 2


class CheckpointMismatchError(ValueError):
    """A checkpoint from another game or network shape than the configured one."""


@dataclass(frozen=True)
class TrainingCheckpoint:
    step: int
    env_id: str
    network: dict[str, Any]  # NetworkConfig as a dict
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    torch_rng: torch.Tensor
    cuda_rng: list[torch.Tensor]  # one per device; empty without CUDA
    sampler_rng: dict[str, Any]  # numpy bit generator state of the batch sampler
    average: dict[str, Any] | None = None  # WeightAverage.state(); None without ema_decay


def capture(
    *,
    step: int,
    env_id: str,
    network: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    sampler_rng: np.random.Generator,
    average: WeightAverage | None = None,
) -> TrainingCheckpoint:
    # The prefetch thread draws from the sampler concurrently; its lock keeps the read whole.
    with sampler_rng.bit_generator.lock:
        sampler_state = sampler_rng.bit_generator.state
    return TrainingCheckpoint(
        step=step,
        env_id=env_id,
        network=dict(network),
        model={k: v.detach().cpu() for k, v in model.state_dict().items()},
        optimizer=optimizer.state_dict(),
        torch_rng=torch.get_rng_state(),
        cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        sampler_rng=sampler_state,
        average=None if average is None else average.state(),
    )


def to_bytes(checkpoint: TrainingCheckpoint) -> bytes:
    buffer = io.BytesIO()
    fields = dict(checkpoint.__dict__)
    if fields["average"] is None:
        del fields["average"]
    torch.save({"format": FORMAT if "average" in fields else 1, **fields}, buffer)
    return buffer.getvalue()


def from_bytes(data: bytes) -> TrainingCheckpoint:
    raw = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if raw.pop("format", None) not in (1, FORMAT):
        raise ValueError(f"unsupported checkpoint format (expected 1 to {FORMAT})")
    return TrainingCheckpoint(**raw)


def restore(
    checkpoint: TrainingCheckpoint,
    *,
    env_id: str,
    network: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    sampler_rng: np.random.Generator,
    average: WeightAverage | None = None,
) -> int:
    """Load the state into freshly built objects; returns the step to continue from.

    An `average` starts over from the restored weights where the checkpoint holds none
    (written without ema_decay); one the checkpoint holds is ignored without `average`."""
    if checkpoint.env_id != env_id or network_with_defaults(checkpoint.network) != dict(network):
        raise CheckpointMismatchError(
            f"checkpoint at step {checkpoint.step} is for {checkpoint.env_id} "
            f"network {checkpoint.network}; configuration says {env_id} network {network}. "
            f"To go on with it, set [network.{checkpoint.env_id}] (or the "
            f"CARTRIDGE_NETWORK_{checkpoint.env_id.upper()}_* variables) to its network; "
            f"to start over, give the trainer a model store without checkpoints"
        )
    model.load_state_dict(checkpoint.model)
    optimizer.load_state_dict(checkpoint.optimizer)
    _match_parameter_layouts(optimizer)
    torch.set_rng_state(checkpoint.torch_rng)
    if checkpoint.cuda_rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(checkpoint.cuda_rng)
    sampler_rng.bit_generator.state = checkpoint.sampler_rng
    if average is not None:
        if checkpoint.average is None:
            average.restart()
        else:
            average.load(checkpoint.average)
    return checkpoint.step


def _match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each per-parameter state tensor its parameter's memory layout. Fused AdamW walks
    a parameter and its moments as flat memory, so a moment saved channels-last and loaded
    beside a contiguous parameter (or the reverse: a checkpoint from another device or an
    older trainer) would be updated element-mismatched, silently."""
    for parameter, state in optimizer.state.items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.shape == parameter.shape:
                state[key] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)
