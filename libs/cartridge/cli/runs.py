"""`cartridge runs list | stop`: find the local runs, see their state, stop one.

    cartridge runs list [ROOT ...] [--all] [--json]   (default roots: . and ./runs)
    cartridge runs stop DIR [--kill]

Exit codes: 0 done, 1 the run could not be stopped as asked (the message says why).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from cartridge.runs.listing import RunSummary, list_runs
from cartridge.runs.stopping import StopError, stop_run

log = logging.getLogger("cartridge.runs")

# Seconds `runs stop` waits: the supervisor's own allowance for its children
# (cli/run.py STOP_TIMEOUT, 60 s) plus time to write its final status.
STOP_WAIT = 90.0
DEFAULT_ROOTS = [Path("."), Path("runs")]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="runs under ROOT (default: . and ./runs)")
    listing.add_argument("roots", nargs="*", type=Path, metavar="ROOT")
    listing.add_argument("--all", action="store_true",
                         help="include finished runs (completed, stopped, failed)")
    listing.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    stop = sub.add_parser("stop", help="stop the run in DIR (SIGTERM to its supervisor)")
    stop.add_argument("run_dir", type=Path, metavar="DIR")
    stop.add_argument("--kill", action="store_true",
                      help="SIGKILL the supervisor and its children (when a stop hangs)")


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        runs = list_runs(args.roots or DEFAULT_ROOTS, include_finished=args.all)
        sys.stdout.write(json.dumps([r.to_json() for r in runs], indent=2) + "\n"
                         if args.json else format_table(runs))
        return 0
    try:
        log.info("%s", stop_run(args.run_dir, kill=args.kill, timeout=STOP_WAIT))
    except StopError as err:
        log.error("%s", err)
        return 1
    return 0


def format_table(runs: list[RunSummary]) -> str:
    if not runs:
        return "no runs found (--all includes finished ones)\n"
    header = ("NAME", "GAME", "STATE", "STEP", "ELAPSED", "MODEL", "PID")
    rows = [header, *(_row(r) for r in runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                   .rstrip() + "\n" for row in rows)


def _row(run: RunSummary) -> tuple[str, ...]:
    step = str(run.step)
    if run.target_steps:
        step += f"/{run.target_steps} ({100 * run.step / run.target_steps:.0f}%)"
    return (run.name, run.game or "-", run.state, step, _duration(run.elapsed_s),
            "-" if run.model_version is None else f"v{run.model_version}",
            "-" if run.pid is None else str(run.pid))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
