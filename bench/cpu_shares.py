"""CPU seconds each process of a running `cartridge run` has used, by role.

A curve's snapshot records them so that "what bounds the run" is measured, not
guessed: on 2 cores the trainer, the actor, the idle-priority backfill actor and the
niced arena share the CPUs, and a change to one (a lower train/data ratio, a faster
trainer) moves CPU time between the others. Linux only (/proc); empty elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def cpu_seconds_by_role(root_pid: int, proc: Path = PROC) -> dict[str, float]:
    """User + system CPU seconds of every live descendant of `root_pid`, summed by
    role: the module a process runs (`python -m trainer` -> "trainer"), else its
    program's name; processes at idle priority (SCHED_IDLE) as "<role> (idle)"."""
    stats = _stats(proc)
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    ticks = os.sysconf("SC_CLK_TCK")
    seconds: dict[str, float] = {}
    pending = list(children.get(root_pid, []))
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        role = _role(proc / str(pid) / "cmdline")
        if role is None:
            continue  # exited meanwhile
        fields = stats[pid]
        if int(fields[38]) == os.SCHED_IDLE:
            role += " (idle)"
        used = (int(fields[11]) + int(fields[12])) / ticks
        seconds[role] = round(seconds.get(role, 0.0) + used, 1)
    return dict(sorted(seconds.items()))


def _stats(proc: Path) -> dict[int, list[str]]:
    """Each process's /proc/<pid>/stat fields from the state on (field 3 at index 0):
    the command name before them is in parentheses and may hold spaces."""
    stats = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        stats[int(entry.name)] = text[text.rindex(")") + 2:].split()
    return stats


def _role(cmdline: Path) -> str | None:
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except OSError:
        return None
    args = [arg.decode(errors="replace") for arg in argv if arg]
    if not args:
        return None
    if "-m" in args[:-1]:
        return args[args.index("-m") + 1]
    return Path(args[0]).name
