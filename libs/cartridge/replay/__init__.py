"""The ReplayStore seam: whole games in, uniform batches from the newest window out.

Backends: SqliteReplayStore (embedded) and PostgresReplayStore (many actors), chosen by
`open_replay_store`. Actors write through ReplayWriter (bounded queue, retry, backpressure);
the trainer samples through `sample_augmented` (symmetries applied at sampling time).
"""

from cartridge.replay.base import (
    EmptyReplayError,
    GameRecord,
    ReplayConnectionError,
    ReplayStats,
    ReplayStore,
    ReplayUnavailableError,
    SampledBatch,
)
from cartridge.replay.codec import InvalidGameError
from cartridge.replay.factory import open_replay_store, open_replay_writer
from cartridge.replay.sampling import sample_augmented
from cartridge.replay.writer import ReplayWriter

__all__ = [
    "EmptyReplayError",
    "GameRecord",
    "InvalidGameError",
    "ReplayConnectionError",
    "ReplayStats",
    "ReplayStore",
    "ReplayUnavailableError",
    "ReplayWriter",
    "SampledBatch",
    "open_replay_store",
    "open_replay_writer",
    "sample_augmented",
]
