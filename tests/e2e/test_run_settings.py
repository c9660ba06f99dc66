"""`cartridge run`'s [run] keys: actors (auto fits the machine: threads per child and a
backfill actor at idle priority, seen in real processes), strength_interval (0 = no
strength checks), strength_games; and the one-line error for bad configuration."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cartridge.cli.machine_split import split_machine
from cartridge.cli.run import StrengthCheck, Supervisor, check_strength
from cartridge.config.settings import Settings, load_settings
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.threads import cpu_budget
from tests.actor.helpers import REPO, publish, tiny_onnx


@pytest.mark.slow
def test_auto_split_sets_each_childs_threads_and_runs_backfill_at_idle_priority(
    tmp_path: Path,
) -> None:
    """A real `cartridge run` with [run] actors = 0: the trainer and every actor log the
    threads the split gave them, and backfill actors run under SCHED_IDLE."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    env.update({"CARTRIDGE_RUN_ACTORS": "0", "CARTRIDGE_RUN_STRENGTH_INTERVAL": "0",
                "CARTRIDGE_RUN_WEB": "false",
                "CARTRIDGE_MCTS_NUM_SIMULATIONS": "4", "CARTRIDGE_TRAINING_DEVICE": "cpu"})
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
        assert any(plan.backfill for plan in expected.actors)
        assert os.sched_getscheduler(run["trainer_pid"]) == os.SCHED_OTHER
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(120) == 0


def test_strength_check_plays_strength_games_against_the_latest_model(tmp_path: Path) -> None:
    settings = load_settings(REPO / "config.toml", {
        "common": {"data_dir": tmp_path}, "run": {"strength_games": 6},
        "mcts": {"num_simulations": 8}}, environ={})
    assert check_strength(settings) is None  # no model yet
    store = FilesystemModelStore(tmp_path / "models", "tictactoe")
    version = publish(store, tiny_onnx()).version
    checked, summary = check_strength(settings)
    assert checked == version
    wins, draws, losses = map(int, re.search(r"(\d+)W (\d+)D (\d+)L", summary).groups())
    assert wins + draws + losses == 6
    assert "vs every reply" in summary
    assert check_strength(settings, skip_version=version) is None


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


def run_settings(data_dir: Path, strength_interval: float) -> Settings:
    return load_settings(REPO / "config.toml", {
        "common": {"data_dir": data_dir},
        "run": {"actors": 1, "strength_interval": strength_interval, "strength_games": 4},
        "mcts": {"num_simulations": 8}}, environ={})


def test_strength_interval_zero_means_no_strength_check(tmp_path: Path) -> None:
    stop = threading.Event()
    off = Supervisor(run_settings(tmp_path, 0), REPO / "config.toml", stop)
    assert off.strength is None
    on = Supervisor(run_settings(tmp_path, 30), REPO / "config.toml", stop)
    assert isinstance(on.strength, StrengthCheck)
    assert on.strength.interval == 30


@pytest.mark.parametrize("strength_interval", [0.0, 0.01])
def test_the_supervisor_runs_strength_checks_only_when_an_interval_is_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, strength_interval: float
) -> None:
    # The supervisor's watch loop without children (none is started): with a model in
    # the store, a positive interval starts a check in the background at once; 0 never does.
    publish(FilesystemModelStore(tmp_path / "models", "tictactoe"), tiny_onnx())
    supervisor = Supervisor(run_settings(tmp_path, strength_interval), REPO / "config.toml",
                            threading.Event())
    caplog.set_level(logging.INFO, logger="cartridge.run")
    watcher = threading.Thread(target=supervisor._watch)
    watcher.start()
    try:
        if strength_interval > 0:
            deadline = time.monotonic() + 300
            while "strength v1" not in caplog.text:
                assert time.monotonic() < deadline, caplog.text
                time.sleep(0.05)
        else:
            time.sleep(1.0)  # several watch ticks, time enough for a check to start
    finally:
        supervisor.stop.set()
        watcher.join(timeout=60)
    assert not watcher.is_alive()
    strength_lines = [r.getMessage() for r in caplog.records if "strength" in r.getMessage()]
    if strength_interval > 0:
        assert any(re.search(r"strength v1 \(step 1\) vs random: \d+W \d+D \d+L", line)
                   for line in strength_lines), strength_lines
        assert supervisor.strength is not None and supervisor.strength.last
    else:
        assert strength_lines == []
        assert supervisor.strength is None
