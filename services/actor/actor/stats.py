"""ActorStats: the actor's counters, and the status file that shows them to others.

`cartridge run`, tests and benchmarks read `<data_dir>/actors/<actor_id>.json`
to see which model every actor plays; a metrics endpoint can read the same
object. The file is replaced atomically, so readers never see half of it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class ActorStats:
    """Updated by the actor's loop thread only; readers take a snapshot()."""

    actor_id: str
    env_id: str
    pid: int = field(default_factory=os.getpid)
    state: str = "starting"  # starting | playing | stopping | stopped
    model_version: int = 0  # 0 = the uniform evaluator
    model_loaded_at: float | None = None  # unix seconds the current model started playing
    precision: str = "fp32"  # of the models it loads (its game's precision): fp32 | int8
    refused_versions: list[int] = field(default_factory=list)
    games: int = 0  # finished games handed to the replay writer
    positions: int = 0  # positions in those games
    games_stored: int = 0  # acknowledged by the replay store
    positions_per_s: float = 0.0  # self-play rate over the last report interval
    games_in_flight: int = 0
    started_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def snapshot(self) -> dict[str, object]:
        return asdict(self)


class StatusFile:
    """Writes ActorStats to `path` atomically; a write failure is logged once, not fatal."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._warned = False

    def write(self, stats: ActorStats) -> None:
        stats.updated_at = time.time()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                       dir=self.path.parent)
            try:
                with os.fdopen(fd, "w") as handle:
                    json.dump(stats.snapshot(), handle)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as err:
            if not self._warned:
                log.warning("cannot write the status file %s: %s (self-play goes on)",
                            self.path, err)
                self._warned = True


def status_path(data_dir: Path, actor_id: str) -> Path:
    return data_dir / "actors" / f"{actor_id}.json"
