"""Learning rate as a pure function of the global step: linear warm-up, then cosine decay.

Because nothing but the step determines the rate, a trainer restarted from a
checkpoint at step k uses exactly the rate an uninterrupted one would have:
the scheduler's whole state is the step stored in the checkpoint.
"""

from __future__ import annotations

import math


def learning_rate(
    step: int,
    *,
    peak: float,
    total_steps: int,
    warmup_steps: int,
    min_ratio: float,
    cosine: bool = True,
) -> float:
    """Rate for the optimiser step that follows `step` completed steps.

    Warm-up rises linearly from peak/warmup_steps to peak over `warmup_steps`;
    the cosine then falls from peak to peak * min_ratio at `total_steps` and
    stays there. With `cosine` off the rate is `peak` after warm-up.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    if not cosine:
        return peak
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / decay_steps, 1.0)
    floor = peak * min_ratio
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
