"""The ReplayStore seam: whole games in, uniform batches from the newest window out."""

from cartridge.replay.base import GameRecord, ReplayStats, ReplayStore, SampledBatch

__all__ = ["GameRecord", "ReplayStats", "ReplayStore", "SampledBatch"]
