"""Pid records that survive pid reuse: a pid plus the process's start time (Linux
/proc/<pid>/stat field 22), so a recycled pid is never taken for the run's process."""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_POLL = 0.1


@dataclass(frozen=True)
class ProcessRef:
    pid: int
    started: int | None  # clock ticks after boot; None where /proc is missing

    @classmethod
    def of(cls, pid: int) -> ProcessRef:
        return cls(pid, _stat(pid)[1])

    @classmethod
    def from_json(cls, data: Any) -> ProcessRef | None:
        if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
            return None
        started = data.get("started")
        return cls(data["pid"], started if isinstance(started, int) else None)

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "started": self.started}

    def alive(self) -> bool:
        """Running (not a zombie) and the same process that was recorded."""
        state, started = _stat(self.pid)
        if state is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        return state != "Z" and (self.started is None or started == self.started)

    def signal(self, signum: int) -> bool:
        """Send `signum` if this is still the recorded process; False if it is gone."""
        if not self.alive():
            return False
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            return False
        return True

    def wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL)
        return True


def _stat(pid: int) -> tuple[str | None, int | None]:
    """(state letter, start time) from /proc/<pid>/stat; (None, None) when unreadable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None, None
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces
    return fields[0], int(fields[19])


def stop_processes(named: dict[str, ProcessRef], timeout: float) -> None:
    """SIGTERM every live one, wait up to `timeout`, then SIGKILL what is left."""
    live = {name: ref for name, ref in named.items() if ref.signal(signal.SIGTERM)}
    for name, ref in live.items():
        log.warning("%s (pid %d) outlived its supervisor: sent SIGTERM", name, ref.pid)
    deadline = time.monotonic() + timeout
    for name, ref in live.items():
        if not ref.wait_gone(max(0.0, deadline - time.monotonic())):
            log.warning("%s (pid %d) did not stop within %.0f s: killing it",
                        name, ref.pid, timeout)
            ref.signal(signal.SIGKILL)
            ref.wait_gone(timeout)
