"""`cartridge run`: the whole training loop on this machine.

Starts one trainer (`python -m trainer`) and actor processes (`python -m actor`),
with threads and priorities that divide the machine between them
(cli/machine_split.py), plus the arena (`python -m arena`, [run] arena: ratings,
benchmarks and the gate, at a lower priority) and the web service (`python -m web`,
[run] web: the dashboard and the play page, whose URL is printed). They share
[common] data_dir: the SQLite replay buffer, the models folder, the journal, the
trainer's stats.json and the actors' status files. Each child logs to
`<data_dir>/logs/<name>.log`; the terminal gets a compact progress line every few
seconds (training step, losses, lr, samples/s, self-play positions/s and games, the
model version each actor plays, and the arena's newest rating and benchmark figure).

Stopping: Ctrl-C (SIGINT) or SIGTERM sends SIGTERM to every child (the trainer
checkpoints, actors drop unfinished games and flush finished ones), waits, kills
stragglers after STOP_TIMEOUT seconds, and exits 0. Running again resumes: the
trainer from its last checkpoint, on the replay buffer that persists.

A trainer or actor that dies on its own is named with its exit code and the end of
its log, the others are stopped, and `cartridge run` exits 1. It does not restart
it: a crash loop would hide the error, and running again resumes where it stopped.
The arena and the web service serve the loop without being part of it: if one of
them dies, the run says so, with its log, and trains on. A trainer that reaches
[training] steps exits 0; then everything stops, exit 0.

The data_dir is the run directory (`--run-dir`): the supervisor records the run in it
(config.toml, meta.json, status.json, pid; see cartridge.runs) so `cartridge runs list`
and `cartridge runs stop` find it, and refuses a directory another live supervisor owns.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cartridge.atomic import write_json_atomic
from cartridge.cli.machine_split import split_machine
from cartridge.cli.ratings import latest_summary
from cartridge.config.entry import apply_log_level
from cartridge.config.settings import Settings, SettingsError, default_config_path, load_settings
from cartridge.journal import Journal, JournalError, open_journal
from cartridge.runs.facts import RunDirMismatchError
from cartridge.runs.record import FinalState, RunBusyError, RunRecord
from cartridge.threads import cpu_budget

log = logging.getLogger("cartridge.run")

PROGRESS_INTERVAL = 5.0  # seconds between progress lines
STOP_TIMEOUT = 60.0  # seconds children get to stop after SIGTERM before SIGKILL
_TICK = 0.2
_LOG_TAIL = 15  # lines of a dead child's log shown
# The arena's priority below training and self-play: on a small machine it takes what
# they leave, and still makes progress ahead of the idle-priority backfill actors.
ARENA_NICENESS = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help="[common] env_id: tictactoe | connect4 | othello")
    parser.add_argument("--config", type=Path,
                        help="config file (default: $CARTRIDGE_CONFIG or ./config.toml)")
    parser.add_argument("--data-dir", type=Path, help="[common] data_dir")
    parser.add_argument("--run-dir", type=Path,
                        help="run directory: the run's data and record (default: [common] "
                             "data_dir; sets it)")
    parser.add_argument("--actors", type=int, help="[run] actors: actor processes, 0 = auto")


def run(args: argparse.Namespace) -> int:
    config = args.config or default_config_path()
    if args.run_dir and args.data_dir and args.run_dir.resolve() != args.data_dir.resolve():
        log.error("--run-dir %s and --data-dir %s differ: the run directory is the data "
                  "directory, give one of them", args.run_dir, args.data_dir)
        return 2
    try:
        settings = load_settings(config, {
            "common": {"env_id": args.env, "data_dir": args.run_dir or args.data_dir},
            "run": {"actors": args.actors},
        })
    except SettingsError as err:
        log.error("%s", err)
        return 2
    apply_log_level(settings)
    # Absolute, so the recorded config.toml reproduces the run from any folder.
    settings = settings.model_copy(update={"common": settings.common.model_copy(
        update={"data_dir": settings.common.data_dir.resolve()})})
    stop = threading.Event()
    _install_stop_handlers(stop)
    supervisor = Supervisor(settings, Path(config).resolve(), stop)
    try:
        record = RunRecord.open(settings, Path(config).resolve(), stop_timeout=STOP_TIMEOUT)
    except (RunBusyError, RunDirMismatchError, OSError) as err:
        log.error("%s", err)
        return 2
    return supervisor.run(record)


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str]
    backfill: bool = False  # idle priority: runs only on CPUs nothing else wants
    essential: bool = True  # its death stops the run (the arena's and the web's does not)
    niceness: int = 0  # added to the supervisor's (the arena yields to training)
    process: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in close()
        self.log_file.write(f"\n---- {time.strftime('%Y-%m-%d %H:%M:%S')} "
                            f"{' '.join(self.argv)}\n".encode())
        self.log_file.flush()
        self.process = subprocess.Popen(
            self.argv, stdout=self.log_file, stderr=subprocess.STDOUT, env=self.env,
            stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=_backfill_child if self.backfill else self._prepare,
        )

    def _prepare(self) -> None:
        """In the child before exec."""
        _die_with_parent()
        if self.niceness:
            _lower_priority(self.niceness)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    def close(self) -> None:
        if self.log_file is not None:
            self.log_file.close()

    def log_tail(self, lines: int = _LOG_TAIL) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when `cartridge run` dies, even by SIGKILL,
    so no orphaned trainer or actor keeps writing to ./data (Linux only)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _backfill_child() -> None:
    """In a backfill actor before exec: SCHED_IDLE, which the kernel runs only on a CPU
    no other task wants (weight 3 against 1024 for a normal task), in the lowest-priority
    autogroup."""
    _die_with_parent()
    _lower_priority(19)
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def _lower_priority(niceness: int) -> None:
    """Nice the process and its autogroup. Each child starts a session of its own, and
    with autogroup scheduling (most Linux desktops and servers) the kernel shares the CPUs
    between sessions first: a nice value or SCHED_IDLE inside one then ranks it only among
    its own session's tasks, so the session's group is niced too (measured here: without
    it, the backfill actor took as much CPU as the trainer)."""
    os.nice(niceness)
    with contextlib.suppress(OSError):  # no autogroup support: the process nice still holds
        Path("/proc/self/autogroup").write_text(str(niceness))


class Supervisor:
    def __init__(self, settings: Settings, config: Path, stop: threading.Event) -> None:
        self.settings = settings
        self.stop = stop
        self.data_dir = settings.common.data_dir.resolve()
        self.env_id = settings.common.env_id
        self.split = split_machine(
            cpu_budget().cpus, actors=settings.run.actors,
            training_threads=settings.training.threads,
            inference_threads=settings.inference.intra_op_threads)
        env = {**os.environ, "CARTRIDGE_COMMON_DATA_DIR": str(self.data_dir),
               "CARTRIDGE_COMMON_ENV_ID": self.env_id, "PYTHONUNBUFFERED": "1"}
        trainer_env = {**env, "CARTRIDGE_TRAINING_THREADS": str(self.split.trainer_threads)}
        spinning = settings.inference.spinning
        actor_env = {**env, "CARTRIDGE_INFERENCE_SPINNING": "off" if spinning == "auto"
                     else spinning}
        logs = self.data_dir / "logs"
        python = sys.executable
        self.trainer = Child("trainer", [python, "-m", "trainer", "--config", str(config)],
                             logs / "trainer.log", trainer_env)
        prefix = f"{socket.gethostname()}-{secrets.token_hex(3)}"
        self.actor_ids = [f"{prefix}-{i}" for i in range(len(self.split.actors))]
        self.actors = [
            Child(f"actor {i}" + (" (backfill)" if plan.backfill else ""),
                  [python, "-m", "actor", "--config", str(config), "--actor-id", actor_id],
                  logs / f"actor-{i}.log",
                  {**actor_env, "CARTRIDGE_INFERENCE_INTRA_OP_THREADS": str(plan.threads)},
                  backfill=plan.backfill)
            for i, (actor_id, plan) in enumerate(zip(self.actor_ids, self.split.actors,
                                                     strict=True))
        ]
        shared_cores = {**env, "CARTRIDGE_INFERENCE_SPINNING": "off"}
        self.web_url_file = self.data_dir / "web.url"
        self.web = Child("web", [python, "-m", "web", "--config", str(config),
                                 "--url-file", str(self.web_url_file)],
                         logs / "web.log", shared_cores, essential=False) \
            if settings.run.web else None
        # One thread unless [arena] threads says otherwise: it shares the machine.
        arena_env = {**shared_cores, "CARTRIDGE_ARENA_THREADS": str(settings.arena.threads or 1)}
        self.arena = Child("arena", [python, "-m", "arena", "--config", str(config)],
                           logs / "arena.log", arena_env, essential=False,
                           niceness=ARENA_NICENESS) if settings.run.arena else None
        self._web_announced = False
        self._reported_gone: set[str] = set()
        self._arena_line: str | None = None
        self._journal: Journal | None = None  # opened for the progress line's arena summary

    @property
    def children(self) -> list[Child]:
        extras = [c for c in (self.arena, self.web) if c is not None]
        return [self.trainer, *self.actors, *extras]

    def run(self, record: RunRecord | None = None) -> int:
        """Start the children and watch them; `record` (the run directory's) is told
        every tick and, at the end, the run's final state."""
        log.info("cartridge run: %s, 1 trainer + %d actors, data in %s (logs in %s); "
                 "Ctrl-C stops", self.env_id, len(self.actors), self.data_dir,
                 self.data_dir / "logs")
        log.info("thread budget: %s", self.split.describe())
        state: FinalState = "failed"
        self.web_url_file.unlink(missing_ok=True)  # a stale URL from an earlier run
        try:
            for child in self.children:
                child.start()
            self._write_run_file()
            if record is not None:
                record.children_started({c.name: c.pid for c in self.children if c.pid},
                                        self.actor_ids)
            code = self._watch(record)
            state = "stopped" if self.stop.is_set() else "completed" if code == 0 else "failed"
            return code
        finally:
            self._stop_children()
            for child in self.children:
                child.close()
            self._close_journal()
            (self.data_dir / "run.json").unlink(missing_ok=True)
            if record is not None:
                record.end(state)

    def _watch(self, record: RunRecord | None = None) -> int:
        next_progress = time.monotonic() + PROGRESS_INTERVAL
        started = time.monotonic()
        while not self.stop.wait(_TICK):
            if record is not None:
                record.tick(self.stop)
            for child in self.children:
                code = child.exit_code()
                if code is None:
                    continue
                if not child.essential:  # the arena and the web serve the loop: it goes on
                    if child.name not in self._reported_gone:
                        log.error("the %s (pid %s) exited with code %s; training goes on "
                                  "without it. Last lines of %s:\n%s", child.name, child.pid,
                                  code, child.log_path, child.log_tail())
                        self._reported_gone.add(child.name)
                    continue
                if child is self.trainer and code == 0:
                    log.info("the trainer finished [training] steps; stopping the actors")
                    return 0
                log.error("%s (pid %s) exited unexpectedly with code %s; stopping the rest. "
                          "Last lines of %s:\n%s", child.name, child.pid, code,
                          child.log_path, child.log_tail())
                return 1
            self._announce_web()
            now = time.monotonic()
            if now >= next_progress:
                log.info("%s", self.progress_line(now - started))
                next_progress = now + PROGRESS_INTERVAL
        log.info("stopping: SIGTERM to the trainer, %d actors%s%s", len(self.actors),
                 ", the arena" if self.arena else "", " and the web service" if self.web else "")
        return 0

    def _announce_web(self) -> None:
        """Print the page's URL once the web service has bound its port."""
        if self.web is None or self._web_announced or not self.web_url_file.exists():
            return
        self._web_announced = True
        log.info("web: play the model at %s", self.web_url_file.read_text().strip())

    def progress_line(self, elapsed: float) -> str:
        parts = [f"{elapsed / 60:4.1f} min"]
        stats = _read_json(self.settings.data_path(self.settings.training.stats))
        if stats and stats.get("env_id") == self.env_id:
            parts.append(
                f"step {stats['step']} loss {stats['total_loss']:.3f} "
                f"(policy {stats['policy_loss']:.3f} value {stats['value_loss']:.3f}) "
                f"lr {stats['learning_rate']:.1e} {stats['samples_per_s']:.0f} samples/s "
                f"published v{stats['model_version'] or 0}")
        else:
            parts.append("trainer waiting for data")
        statuses = [_read_json(self.data_dir / "actors" / f"{a}.json") for a in self.actor_ids]
        live = [s for s in statuses if s]
        rate = sum(s.get("positions_per_s", 0.0) for s in live)
        games = sum(s.get("games", 0) for s in live)
        versions = " ".join(f"v{s.get('model_version', 0)}" if s else "-" for s in statuses)
        parts.append(f"self-play {rate:.0f} positions/s, {games} games, actors play {versions}")
        if self.arena is not None:
            parts.append(self._arena_summary() or "arena: no rating yet")
        return " | ".join(parts)

    def _arena_summary(self) -> str | None:
        """The arena's newest rating and benchmark, from the journal it writes; the last
        line read stays while the journal is busy or unreadable."""
        try:
            if self._journal is None:
                self._journal = open_journal(self.settings.storage, self.data_dir)
            self._arena_line = latest_summary(self._journal, self.env_id) or self._arena_line
        except JournalError as err:
            log.debug("journal not readable for the progress line: %s", err)
            self._close_journal()
        return self._arena_line

    def _close_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def _write_run_file(self) -> None:
        """Who is running (for tests and tools): pids and actor ids."""
        data = {"pid": os.getpid(), "trainer_pid": self.trainer.pid,
                "actors": [{"actor_id": a, "pid": c.pid}
                           for a, c in zip(self.actor_ids, self.actors, strict=True)],
                "services": {c.name: c.pid for c in (self.arena, self.web) if c is not None}}
        write_json_atomic(self.data_dir / "run.json", data)

    def _stop_children(self) -> None:
        for child in self.children:
            child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s: killing it", child.name, STOP_TIMEOUT)
                child.kill()
                child.process.wait()
        codes = ", ".join(f"{c.name} {c.exit_code()}" for c in self.children if c.process)
        log.info("stopped (exit codes: %s)", codes)


def _install_stop_handlers(stop: threading.Event) -> None:
    def handle(signum: int, _frame: object) -> None:
        if not stop.is_set():
            log.info("%s received", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
