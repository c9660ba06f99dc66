"""`cartridge runs stop`: end a run through its supervisor, which stops its children
cleanly (the trainer checkpoints), as Ctrl-C does; or, with kill, by force."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

from cartridge.runs.layout import RunDir, read_json
from cartridge.runs.listing import summarise
from cartridge.runs.processes import ProcessRef

log = logging.getLogger(__name__)


class StopError(RuntimeError):
    """The run cannot be stopped as asked; the message says why and what to do."""


def stop_run(path: Path, *, kill: bool, timeout: float) -> str:
    """Stop the run in `path` and wait up to `timeout` seconds for it to end; returns
    what happened. StopError for a folder that is no run, a run that already ended,
    or one still running when the time is up."""
    run = RunDir(path.resolve())
    if not run.is_run():
        raise StopError(f"{run.path} is not a run directory (no {run.meta.name}); "
                        "`cartridge runs list --all` shows the runs")
    state = summarise(run, run.path.name).state
    record = read_json(run.pid) or {}
    supervisor = ProcessRef.from_json(record)
    if supervisor is None or (state == "dead" and not kill):
        raise StopError(_not_running(run, state))
    if kill:
        return _kill(run, supervisor, record, timeout)
    try:
        supervisor.signal(signal.SIGTERM)
    except PermissionError:  # another user's process: the file asks it instead
        run.stop.touch()  # the supervisor checks for it on every tick
        log.info("could not signal pid %d: left %s for the supervisor", supervisor.pid, run.stop)
    if not supervisor.wait_gone(timeout):
        raise StopError(f"run {run.path} (pid {supervisor.pid}) is still stopping after "
                        f"{timeout:.0f} s; `cartridge runs stop --kill {run.path}` ends it "
                        "by force")
    final = (read_json(run.status) or {}).get("state", "ended")
    return f"run {run.path} {final} (supervisor pid {supervisor.pid})"


def _kill(run: RunDir, supervisor: ProcessRef, record: dict, timeout: float) -> str:
    """SIGKILL the supervisor and every child it recorded; the run is then `dead`
    (nothing checkpointed since the last publish) and `cartridge run` resumes it."""
    children = record.get("children") if isinstance(record.get("children"), dict) else {}
    refs = [supervisor, *filter(None, (ProcessRef.from_json(c) for c in children.values()))]
    try:
        killed = [ref.pid for ref in refs if ref.signal(signal.SIGKILL)]
    except PermissionError as err:
        raise StopError(f"run {run.path}: not allowed to kill its processes ({err.strerror}); "
                        "run `cartridge runs stop --kill` as the user that started it") from None
    gone = all(ref.wait_gone(timeout) for ref in refs)
    if not gone:
        raise StopError(f"run {run.path}: some of pids {killed} survived SIGKILL")
    return (f"run {run.path} killed (pids {', '.join(map(str, killed)) or 'none left'}); "
            f"`cartridge run --run-dir {run.path}` resumes it")


def _not_running(run: RunDir, state: str) -> str:
    if state == "dead":
        return (f"run {run.path} is not running: its supervisor died (state dead); "
                f"`cartridge run --run-dir {run.path}` resumes it, or `cartridge runs stop "
                f"--kill {run.path}` ends any child left")
    return f"run {run.path} is not running (it {state}); nothing to stop"
