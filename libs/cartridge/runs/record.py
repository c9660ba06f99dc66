"""RunRecord: what `cartridge run`'s supervisor writes into its run directory.

open()  claims the directory (an flock held for the supervisor's life, so two
        supervisors never share a run), refuses another game's or network's run,
        stops children a killed supervisor left behind, then writes config.toml,
        appends to meta.json and writes `pid` and status.json.
tick()  on every supervisor tick: honours a `stop` file; rewrites status.json
        every STATUS_INTERVAL seconds (the heartbeat).
end()   the final state in status.json; removes `pid` and releases the claim.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO, Any, Literal

from cartridge.atomic import write_json_atomic as write_json
from cartridge.atomic import write_text_atomic as write_atomic
from cartridge.config.settings import Settings
from cartridge.runs import facts
from cartridge.runs.layout import RunDir, read_json
from cartridge.runs.processes import ProcessRef, stop_processes
from cartridge.runs.resolved import resolved_toml

log = logging.getLogger(__name__)

STATUS_INTERVAL = 2.0  # seconds between status.json heartbeats (the issue asks for <= 10)
FinalState = Literal["completed", "stopped", "failed"]


class RunBusyError(RuntimeError):
    """Another live supervisor owns the run directory."""


class RunRecord:
    def __init__(self, run: RunDir, settings: Settings, lock: IO[str],
                 start: dict[str, Any]) -> None:
        self.run = run
        self.settings = settings
        self.start = start
        self._lock = lock
        self._children: dict[str, ProcessRef] = {}
        self._actor_status: list[Path] = []
        self._next_status = 0.0

    @classmethod
    def open(cls, settings: Settings, config_path: Path, *, stop_timeout: float) -> RunRecord:
        """Claim and record a start. RunBusyError and facts.RunDirMismatchError leave
        the directory as it was; an OSError names the path it could not write."""
        run = RunDir(settings.common.data_dir.resolve())
        run.path.mkdir(parents=True, exist_ok=True)
        lock = _claim(run)
        try:
            start = facts.start_facts(settings, config_path)
            facts.check_compatible(run, start)
            _stop_leftovers(run, stop_timeout)
            run.stop.unlink(missing_ok=True)  # a request meant for an earlier start
            write_atomic(run.config, resolved_toml(settings))
            facts.append_start(run, start)
            record = cls(run, settings, lock, start)
            record._write_pid()
            record.write_status("running")
        except BaseException:
            lock.close()
            raise
        return record

    def children_started(self, children: dict[str, int], actor_ids: list[str]) -> None:
        self._children = {name: ProcessRef.of(pid) for name, pid in children.items()}
        self._actor_status = [self.run.path / "actors" / f"{a}.json" for a in actor_ids]
        self._write_pid()

    def tick(self, stop: threading.Event) -> None:
        if self.run.stop.exists() and not stop.is_set():
            log.info("stop file %s found: stopping", self.run.stop)
            stop.set()
        if time.monotonic() >= self._next_status:
            self.write_status("running")

    def end(self, state: FinalState) -> None:
        try:
            self.write_status(state)
            self.run.pid.unlink(missing_ok=True)
            self.run.stop.unlink(missing_ok=True)
        finally:
            self._lock.close()  # releases the flock

    def write_status(self, state: str) -> None:
        self._next_status = time.monotonic() + STATUS_INTERVAL
        write_json(self.run.status, {
            "state": state,
            "game": self.settings.common.env_id,
            "pid": os.getpid(),
            "started_at": self.start["started_at"],
            "heartbeat_at": facts.utc_now(),
            "target_steps": self.settings.training.steps,
            **self._progress(),
        })

    def _progress(self) -> dict[str, Any]:
        """Step, newest model and replay size from the trainer's stats.json; games and
        positions self-played since this start from the actors' status files."""
        stats = read_json(self.settings.data_path(self.settings.training.stats)) or {}
        if stats.get("env_id") != self.settings.common.env_id:
            stats = {}
        actors = [s for s in map(read_json, self._actor_status) if s]
        return {
            "step": stats.get("step", 0),
            "model_version": stats.get("model_version"),
            "replay_positions": stats.get("replay_positions", 0),
            "games": sum(int(s.get("games", 0)) for s in actors),
            "positions": sum(int(s.get("positions", 0)) for s in actors),
        }

    def _write_pid(self) -> None:
        write_json(self.run.pid, {
            **ProcessRef.of(os.getpid()).to_json(),
            "children": {name: ref.to_json() for name, ref in self._children.items()},
        })


def _claim(run: RunDir) -> IO[str]:
    lock = open(run.lock, "a")  # noqa: SIM115 - held open for the run's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        owner = (read_json(run.pid) or {}).get("pid", "unknown")
        raise RunBusyError(
            f"run directory {run.path} is in use by a running supervisor (pid {owner}); "
            f"stop it with `cartridge runs stop {run.path}` first"
        ) from None
    return lock


def _stop_leftovers(run: RunDir, timeout: float) -> None:
    """A pid file with the claim free means the last supervisor died without cleaning
    up: stop the children it recorded, if still running, so no two trainers share a run."""
    record = read_json(run.pid)
    if record is None:
        return
    log.warning("resuming %s: its last supervisor (pid %s) ended without cleaning up",
                run.path, record.get("pid"))
    children = record.get("children")
    refs = {name: ProcessRef.from_json(data)
            for name, data in (children.items() if isinstance(children, dict) else [])}
    live = {name: ref for name, ref in refs.items() if ref is not None}
    try:
        stop_processes(live, timeout)
    except PermissionError:
        still = ", ".join(f"{name} pid {ref.pid}" for name, ref in live.items() if ref.alive())
        raise RunBusyError(
            f"run directory {run.path}: processes of its last run are still running and "
            f"may not be signalled by this user ({still}); stop them first") from None
