"""stats.json: the trainer's progress for people and the web, replaced atomically."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainingStats:
    env_id: str
    step: int
    total_steps: int
    total_loss: float
    policy_loss: float
    value_loss: float
    learning_rate: float
    samples_per_s: float
    model_version: int | None  # latest version this trainer published; None before the first
    replay_positions: int  # positions stored in the replay buffer at this report
    ratio_wait_share: float  # share of the time since the last report spent waiting for data
    ratio_wait_s: float  # seconds this process has spent waiting for data, in all
    autocast: str  # the precision training steps in: "float32" or "bfloat16" (trainer.precision)
    timestamp: float  # unix seconds


def write_stats(path: Path, stats: TrainingStats) -> None:
    """Write to a temporary file in the same folder, then rename over `path`,
    so a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(stats), handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
