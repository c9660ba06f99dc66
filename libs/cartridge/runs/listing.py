"""The runs under a root folder and the state of each, for `cartridge runs list`.

State, from the run's own files:
    running    the supervisor in `pid` is alive and status.json's heartbeat is recent
    stale      the supervisor is alive but its heartbeat is older than STALE_AFTER
    dead       `pid` names a supervisor that is gone (killed: `cartridge run` resumes it)
    completed | stopped | failed   ended cleanly (no `pid`), as status.json says
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cartridge.runs.layout import RunDir, read_json
from cartridge.runs.processes import ProcessRef

STALE_AFTER = 120.0  # seconds without a heartbeat before a live run is called stale
ACTIVE_STATES = ("running", "stale", "dead")


@dataclass(frozen=True)
class RunSummary:
    name: str
    path: str
    game: str | None
    state: str
    step: int
    target_steps: int | None
    elapsed_s: float | None
    model_version: int | None
    pid: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def find_runs(roots: list[Path]) -> list[RunDir]:
    """Each root that is a run, and each run directly under it; sorted, without repeats."""
    found: dict[Path, RunDir] = {}
    for root in roots:
        if not root.is_dir():
            continue
        candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
        for path in candidates:
            run = RunDir(path.resolve())
            if run.is_run():
                found.setdefault(run.path, run)
    return [found[path] for path in sorted(found)]


def summarise(run: RunDir, name: str, now: float | None = None) -> RunSummary:
    now = time.time() if now is None else now
    status = read_json(run.status) or {}
    pid_record = read_json(run.pid)
    supervisor = ProcessRef.from_json(pid_record) if pid_record else None
    heartbeat = _timestamp(status.get("heartbeat_at"))
    started = _timestamp(status.get("started_at"))
    if supervisor is not None:
        if not supervisor.alive():
            state = "dead"
        elif heartbeat is None or now - heartbeat > STALE_AFTER:
            state = "stale"
        else:
            state = "running"
    else:
        state = str(status.get("state", "unknown"))
        if state == "running":  # no pid file, yet never recorded an end
            state = "dead"
    end = now if state in ("running", "stale") else heartbeat
    return RunSummary(
        name=name,
        path=str(run.path),
        game=status.get("game"),
        state=state,
        step=int(status.get("step", 0)),
        target_steps=status.get("target_steps"),
        elapsed_s=None if started is None or end is None else max(0.0, end - started),
        model_version=status.get("model_version"),
        pid=supervisor.pid if supervisor else None,
    )


def list_runs(roots: list[Path], *, include_finished: bool) -> list[RunSummary]:
    summaries = []
    for run in find_runs(roots):
        summary = summarise(run, _name(run.path, roots))
        if include_finished or summary.state in ACTIVE_STATES:
            summaries.append(summary)
    return summaries


def _name(path: Path, roots: list[Path]) -> str:
    for root in roots:
        try:
            relative = path.relative_to(root.resolve())
        except ValueError:
            continue
        return str(relative) if relative.parts else root.resolve().name
    return str(path)


def _timestamp(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(value).timestamp()
    except (TypeError, ValueError):
        return None
