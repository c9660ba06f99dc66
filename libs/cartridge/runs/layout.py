"""The files of a run directory (see the package docstring)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.toml"

    @property
    def meta(self) -> Path:
        return self.path / "meta.json"

    @property
    def status(self) -> Path:
        return self.path / "status.json"

    @property
    def pid(self) -> Path:
        return self.path / "pid"

    @property
    def stop(self) -> Path:
        return self.path / "stop"

    @property
    def lock(self) -> Path:
        return self.path / ".lock"

    def is_run(self) -> bool:
        """A run directory is one `cartridge run` has recorded a start in."""
        return self.meta.is_file()


def read_json(path: Path) -> dict[str, Any] | None:
    """The object in `path`, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


