"""`cartridge run`'s [run] keys: actors (auto fits the machine: threads per child and a
backfill actor at idle priority, seen in real processes), arena and web (children that
serve the loop: the arena at a lower priority, its summary in the progress line, and a
dead one does not stop training); and the one-line error for bad configuration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cartridge.cli.machine_split import split_machine
from cartridge.cli.run import Supervisor
from cartridge.config.settings import Settings, load_settings
from cartridge.journal import BenchmarkRow, RatingRow, open_journal
from cartridge.threads import cpu_budget
from tests.actor.helpers import REPO


@pytest.mark.slow
def test_auto_split_sets_each_childs_threads_and_runs_backfill_at_idle_priority(
    tmp_path: Path,
) -> None:
    """A real `cartridge run` with [run] actors = 0: the trainer and every actor log the
    threads the split gave them, and backfill actors run under SCHED_IDLE."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    env.update({"CARTRIDGE_RUN_ACTORS": "0", "CARTRIDGE_RUN_ARENA": "false",
                "CARTRIDGE_RUN_WEB": "false",
                "CARTRIDGE_MCTS_NUM_SIMULATIONS": "4",
                "CARTRIDGE_SELFPLAY_TICTACTOE_NUM_SIMULATIONS": "4",
                "CARTRIDGE_TRAINING_DEVICE": "cpu"})
    expected = split_machine(cpu_budget().cpus, actors=0, training_threads=0,
                             inference_threads=0)
    process = subprocess.Popen(
        [sys.executable, "-m", "cartridge.cli.main", "run", "--config",
         str(REPO / "config.toml"), "--data-dir", str(data)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    logs = data / "logs"

    def logged(name: str, text: str) -> bool:
        path = logs / name
        return path.exists() and text in path.read_text()

    try:
        deadline = time.monotonic() + 120
        # A backfill actor may not get a CPU on a busy machine (that is its point): its
        # priority is checked, its log line is not waited for.
        actor_logs = [f"actor-{i}.log" for i, plan in enumerate(expected.actors)
                      if not plan.backfill]
        while not (logged("trainer.log", "PyTorch intra-op pool") and
                   all(logged(name, "ONNX Runtime intra-op pool") for name in actor_logs)):
            assert process.poll() is None, "cartridge run exited"
            assert time.monotonic() < deadline, "children did not log their threads"
            time.sleep(0.1)
        run = json.loads((data / "run.json").read_text())
        assert logged("trainer.log", f"PyTorch intra-op pool: {expected.trainer_threads} "
                                     f"threads ([training] threads = {expected.trainer_threads})")
        for i, (plan, actor) in enumerate(zip(expected.actors, run["actors"], strict=True)):
            if not plan.backfill:
                assert logged(f"actor-{i}.log", f"ONNX Runtime intra-op pool: {plan.threads} "
                                                f"threads ([inference] intra_op_threads = ")
            policy = os.sched_getscheduler(actor["pid"])
            assert policy == (os.SCHED_IDLE if plan.backfill else os.SCHED_OTHER), (i, plan)
            if plan.backfill:  # its session's autogroup yields too, or SCHED_IDLE is moot
                assert autogroup_nice(actor["pid"]) in (None, 19)
        assert any(plan.backfill for plan in expected.actors)
        assert os.sched_getscheduler(run["trainer_pid"]) == os.SCHED_OTHER
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(120) == 0


def test_bad_run_setting_exits_2_naming_the_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "cartridge.cli.main", "run", "--config", str(REPO / "config.toml"),
         "--data-dir", str(tmp_path)],
        env={**env, "CARTRIDGE_RUN_ACTORS": "-1"}, capture_output=True, text=True,
        timeout=60, check=False)
    assert result.returncode == 2
    assert "run.actors" in result.stderr
    assert not (tmp_path / "logs").exists()  # nothing was started


def autogroup_nice(pid: int) -> int | None:
    """The nice value of the process's autogroup; None where the kernel has none."""
    try:
        return int(Path(f"/proc/{pid}/autogroup").read_text().split("nice")[1])
    except (OSError, IndexError, ValueError):
        return None


def run_settings(data_dir: Path, arena: bool = True, web: bool = True) -> Settings:
    return load_settings(REPO / "config.toml", {
        "common": {"data_dir": data_dir}, "run": {"actors": 1, "arena": arena, "web": web}},
        environ={})


@pytest.mark.parametrize(("arena", "web"), [(True, True), (False, False), (True, False)])
def test_arena_and_web_keys_choose_the_serving_children(tmp_path: Path, arena, web) -> None:
    supervisor = Supervisor(run_settings(tmp_path, arena, web), REPO / "config.toml",
                            threading.Event())
    names = [child.name for child in supervisor.children]
    assert names[:2] == ["trainer", "actor 0"]
    assert ("arena" in names) == arena and ("web" in names) == web
    for child in supervisor.children:
        assert child.essential == (child.name not in ("arena", "web"))
    if arena:
        assert supervisor.arena.niceness == 10 and supervisor.arena.argv[1:3] == ["-m", "arena"]
        # [arena] threads = 0 would take the whole machine's budget: here it shares it.
        assert supervisor.arena.env["CARTRIDGE_ARENA_THREADS"] == "1"
        assert supervisor.arena.env["CARTRIDGE_INFERENCE_SPINNING"] == "off"


def test_the_progress_line_shows_the_arenas_newest_rating(tmp_path: Path) -> None:
    settings = run_settings(tmp_path)
    supervisor = Supervisor(settings, REPO / "config.toml", threading.Event())
    assert "arena: no rating yet" in supervisor.progress_line(60.0)
    with open_journal(settings.storage, tmp_path) as journal:
        journal.replace_ratings("tictactoe", [RatingRow("v3", 3, 300, 412.4, 35.2, 144),
                                              RatingRow("random", None, None, 0.0, 0.0, 144)])
        journal.record_benchmark(BenchmarkRow("tictactoe", 3, "tictactoe-perfect-play",
                                              "search", 64, 0.931, {}, 1.0))
    line = supervisor.progress_line(60.0)
    assert "arena v3 (step 300) 412 ± 35 Elo, value kept 93.1% with search" in line


@pytest.mark.slow
def test_the_arena_runs_niced_and_its_death_does_not_stop_training(tmp_path: Path) -> None:
    data, output = tmp_path / "data", tmp_path / "run.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    env.update({"CARTRIDGE_RUN_ACTORS": "1", "CARTRIDGE_RUN_WEB": "false",
                "CARTRIDGE_MCTS_NUM_SIMULATIONS": "4",
                "CARTRIDGE_SELFPLAY_TICTACTOE_NUM_SIMULATIONS": "4",
                "CARTRIDGE_TRAINING_DEVICE": "cpu"})
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cartridge.cli.main", "run", "--config",
             str(REPO / "config.toml"), "--data-dir", str(data)],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not (data / "run.json").exists():
            assert process.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
        run = json.loads((data / "run.json").read_text())
        arena = run["services"]["arena"]
        assert os.getpriority(os.PRIO_PROCESS, arena) == os.getpriority(os.PRIO_PROCESS, 0) + 10
        assert autogroup_nice(arena) in (None, 10)
        os.kill(arena, signal.SIGKILL)
        while "the arena (pid" not in output.read_text():
            assert process.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
        assert "exited with code -9; training goes on" in output.read_text()
        assert process.poll() is None  # the run goes on
        os.kill(run["trainer_pid"], 0)  # and so does the trainer
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(120) == 0, output.read_text()[-3000:]
