"""meta.json: what started a run, one entry per start (the first start and each resume).

The same facts travel in every published model's metadata (ModelInfo.run), so a model
downloaded from the store says which commit, command, settings and run produced it.
Nothing here imports torch: the supervisor reads package versions from their metadata.
"""

from __future__ import annotations

import importlib.metadata
import logging
import platform
import shlex
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cartridge.atomic import write_json_atomic as write_json
from cartridge.config.settings import Settings, network_with_defaults
from cartridge.runs.layout import RunDir, read_json

log = logging.getLogger(__name__)

_CODE_DIR = Path(__file__).resolve().parent  # git looks upwards from here for the checkout
_GIT_TIMEOUT = 10.0


class RunDirMismatchError(ValueError):
    """The run directory was started for another game or network shape."""


def start_facts(settings: Settings, config_path: Path, argv: list[str] | None = None) -> dict:
    """The facts of one start of a run, as meta.json records them."""
    env_id = settings.common.env_id
    commit, dirty = git_state()
    return {
        "started_at": utc_now(),
        "command": shlex.join(sys.argv if argv is None else argv),
        "config_path": str(config_path),
        "run_dir": str(settings.common.data_dir.resolve()),
        "game": env_id,
        "network": settings.network.for_game(env_id).model_dump(),
        # Configured values: 0 = a fresh seed each start, "auto" = the best device found
        # (the trainer logs the seed and device it chose).
        "seed": {"training": settings.training.seed, "actor": settings.actor.seed},
        "device": {"training": settings.training.device, "inference": settings.inference.provider},
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "torch": package_version("torch"),
        "onnxruntime": package_version("onnxruntime"),
        "hostname": socket.gethostname(),
    }


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout this code runs from; (None, None) outside one."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, dirty


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(_CODE_DIR), *args], capture_output=True,
                          text=True, check=True, timeout=_GIT_TIMEOUT).stdout.strip()


def read_starts(run: RunDir) -> list[dict[str, Any]]:
    data = read_json(run.meta) or {}
    starts = data.get("starts")
    return starts if isinstance(starts, list) else []


def check_compatible(run: RunDir, facts: dict[str, Any]) -> None:
    """Refuse to train on top of a run of another game or network shape."""
    starts = read_starts(run)
    if not starts:
        return
    first = starts[0]
    recorded = network_with_defaults(first.get("network"))
    if (first.get("game"), recorded) != (facts["game"], facts["network"]):
        raise RunDirMismatchError(
            f"run directory {run.path} belongs to game {first.get('game')} with network "
            f"{first.get('network')}; this run asks for game {facts['game']} with network "
            f"{facts['network']}. Resume it with the settings it started with "
            f"(--config {run.config}), or choose another --run-dir (or remove that one)."
        )


def append_start(run: RunDir, facts: dict[str, Any]) -> None:
    write_json(run.meta, {"starts": [*read_starts(run), facts]})


def current_facts(run: RunDir) -> dict[str, Any] | None:
    """The newest start's facts, or None when the directory records no run."""
    starts = read_starts(run)
    return starts[-1] if starts else None
