"""Whether the trainer steps under bfloat16 autocast or in float32, chosen by timing both
on this machine when training starts.

On CUDA bf16 is taken as given. On a CPU the instruction set does not tell: bench trainer
measured the Connect Four ResNet's bf16 step at 1.7x float32 on an Intel CPU with AMX,
1.5-1.7x on AMD Zen 4 and Zen 5 (AVX512-BF16, no AMX), but 0.65-0.7x on an Intel Xeon
with the same AVX512-BF16 and no AMX, and tic-tac-toe's small MLP slower in bf16 on all
of them. So the trainer times a few optimiser steps each way on a copy of its network and
keeps float32 unless bf16 is clearly faster. bf16 keeps float32's exponent range, so no
GradScaler is needed, and the weights and optimiser state stay float32 either way.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from cartridge.games.base import Game
from trainer.batches import Batch
from trainer.optimise import make_optimizer, train_step

log = logging.getLogger(__name__)

DTYPES: dict[str, torch.dtype | None] = {"float32": None, "bfloat16": torch.bfloat16}
# bf16 rounds activations to 8 bits of mantissa: worth it only for a clear gain, not a
# tie that the timing noise of a shared machine could flip.
MIN_SPEEDUP = 1.05
WARMUP_ROUNDS = 1  # oneDNN picks and caches its kernels on the first step of each
MEASURED_ROUNDS = 4


@dataclass(frozen=True)
class AutocastChoice:
    name: str  # "float32" or "bfloat16"
    samples_per_s: dict[str, float]  # measured per candidate; empty when there was no choice

    @property
    def dtype(self) -> torch.dtype | None:
        return DTYPES[self.name]

    def describe(self) -> str:
        if not self.samples_per_s:
            return self.name
        timed = ", ".join(f"{name} {rate:,.0f}" for name, rate in self.samples_per_s.items())
        return f"{self.name} (measured samples/s: {timed})"


def candidates(device: torch.device, amp: bool) -> tuple[str, ...]:
    """The precisions worth timing: bf16 on CUDA without timing (its tensor cores), both
    on a CPU, float32 alone when [training] amp is off or on MPS (its bf16 autocast has not
    been measured here)."""
    if not amp or device.type == "mps":
        return ("float32",)
    if device.type == "cuda":
        return ("bfloat16",)
    return ("float32", "bfloat16")


def faster(samples_per_s: Mapping[str, float], min_speedup: float = MIN_SPEEDUP) -> str:
    """bfloat16 where it trained at least min_speedup times float32's samples/s."""
    if samples_per_s["bfloat16"] >= min_speedup * samples_per_s["float32"]:
        return "bfloat16"
    return "float32"


def choose_autocast(model: nn.Module, game: Game, *, device: torch.device, amp: bool,
                    batch_size: int, lr: float, weight_decay: float,
                    grad_clip: float) -> AutocastChoice:
    """Time optimiser steps of a copy of `model` (its layout and device) in each candidate
    precision, alternating them so that load from other processes (the actors of
    `cartridge run`) hits both alike. `model` and the global random state stay untouched."""
    names = candidates(device, amp)
    if len(names) == 1:
        return AutocastChoice(names[0], {})
    with torch.random.fork_rng(devices=[]):
        probe = copy.deepcopy(model).train()
        optimizer = make_optimizer(probe, lr=lr, weight_decay=weight_decay)
        batch = random_batch(game, batch_size, torch.Generator().manual_seed(0))
        seconds = dict.fromkeys(names, 0.0)
        for i in range(WARMUP_ROUNDS + MEASURED_ROUNDS):
            for name in names if i % 2 == 0 else names[::-1]:
                started = time.perf_counter()
                train_step(probe, optimizer, batch, lr=lr, grad_clip=grad_clip,
                           device=device, amp_dtype=DTYPES[name])
                if i >= WARMUP_ROUNDS:
                    seconds[name] += time.perf_counter() - started
    rates = {name: MEASURED_ROUNDS * batch_size / s for name, s in seconds.items()}
    return AutocastChoice(faster(rates), rates)


def random_batch(game: Game, batch_size: int, generator: torch.Generator) -> Batch:
    """Shapes of a real batch; the values do not change the arithmetic's speed."""
    observations = torch.rand((batch_size, *game.observation_shape), generator=generator)
    return Batch(
        observations=observations,
        legal_masks=torch.ones((batch_size, game.num_actions), dtype=torch.bool),
        policies=torch.full((batch_size, game.num_actions), 1.0 / game.num_actions),
        values=torch.rand(batch_size, generator=generator) * 2 - 1,
    )
