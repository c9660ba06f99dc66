"""`cartridge run` end to end on tic-tac-toe, with tiny settings through CARTRIDGE_* variables.

1. A run produces games, trains, publishes model versions, and every actor
   reports (status file) playing with the newest version.
2. SIGKILL the trainer mid-run: `cartridge run` names it and its exit code,
   stops the actors cleanly and exits 1. No model file is partial (every
   published blob verifies), no game is half-written.
3. Run again: the trainer resumes from its last checkpoint's step, training
   goes on, and Ctrl-C (SIGINT) stops everything with exit 0.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cartridge.modelstore.filesystem import FilesystemModelStore
from tests.actor.helpers import (
    REPO,
    config_opening_plies,
    read_games,
    read_status,
    wait_for,
    whole_game_problem,
)

pytestmark = pytest.mark.slow

TINY = {
    "CARTRIDGE_TRAINING_MIN_POSITIONS": "200",
    "CARTRIDGE_TRAINING_CHECKPOINT_INTERVAL": "20",
    "CARTRIDGE_TRAINING_BATCH_SIZE": "64",
    "CARTRIDGE_TRAINING_WARMUP_STEPS": "5",
    "CARTRIDGE_TRAINING_DEVICE": "cpu",
    "CARTRIDGE_TRAINING_WAIT_INTERVAL": "0.5",
    "CARTRIDGE_NETWORK_TICTACTOE_CHANNELS": "32",
    "CARTRIDGE_MCTS_NUM_SIMULATIONS": "25",
    "CARTRIDGE_SELFPLAY_TICTACTOE_NUM_SIMULATIONS": "25",
    "CARTRIDGE_ACTOR_CONCURRENT_GAMES": "32",
    "CARTRIDGE_ACTOR_RELOAD_INTERVAL": "0.5",
    "CARTRIDGE_RUN_ACTORS": "2",
    # The arena and the web service have tests of their own inside cartridge run
    # (tests/e2e/test_run_settings.py, tests/web/): here, only the loop.
    "CARTRIDGE_RUN_ARENA": "false",
    "CARTRIDGE_RUN_WEB": "false",
}


def start_run(data: Path, output: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    with open(output, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cartridge.cli.main", "run", "--config",
             str(REPO / "config.toml"), "--data-dir", str(data)],
            env={**env, **TINY}, stdout=out, stderr=subprocess.STDOUT)


def alive(process: subprocess.Popen[bytes], output: Path):
    def check() -> str | None:
        if process.poll() is None:
            return None
        return f"cartridge run exited {process.returncode}:\n{output.read_text()[-3000:]}"
    return check


def actor_versions(data: Path) -> list[int]:
    run = json.loads((data / "run.json").read_text())
    status = read_status(data)
    return [status.get(a["actor_id"], {}).get("model_version", 0) for a in run["actors"]]


def assert_models_whole(store: FilesystemModelStore) -> None:
    assert store.latest() is not None
    for version in store.versions():  # every version with metadata: blobs must verify
        store.load_onnx(version)
        store.load_checkpoint(version)
    latest = store.pointer("latest")
    assert latest in store.versions()


def assert_games_whole(data: Path) -> int:
    games = read_games(data / "replay.db")
    problems = [p for g in games if (p := whole_game_problem(g, config_opening_plies()))]
    assert not problems, problems[:3]
    return len(games)


def test_embedded_run_trains_reloads_survives_a_trainer_kill_and_resumes(tmp_path: Path):
    data, output = tmp_path / "data", tmp_path / "run.out"
    store = FilesystemModelStore(data / "models", "tictactoe")

    # ---- 1. games, training, publishing, every actor on the newest version ----
    process = start_run(data, output)
    check = alive(process, output)
    wait_for(lambda: (data / "run.json").exists(), 120, "run.json", check)
    wait_for(lambda: (store.pointer("latest") or 0) >= 2, 300, "two model versions", check)
    wait_for(lambda: min(actor_versions(data)) >= 2, 120, "every actor on v2+", check)
    newest = store.pointer("latest")
    wait_for(lambda: actor_versions(data) == [store.pointer("latest")] * 2
             or min(actor_versions(data)) > newest, 120,
             "every actor on the same newest version", check)
    assert len(actor_versions(data)) == 2

    # ---- 2. SIGKILL the trainer -----------------------------------------------------
    run_info = json.loads((data / "run.json").read_text())
    # Each actor's start time, so that a new process reusing its pid is not taken for it.
    actors = {actor["pid"]: _start_time(actor["pid"]) for actor in run_info["actors"]}
    os.kill(run_info["trainer_pid"], signal.SIGKILL)
    assert process.wait(120) == 1
    text = output.read_text()
    assert re.search(r"trainer \(pid \d+\) exited unexpectedly with code -9", text), text[-3000:]
    for pid, started in actors.items():  # stopped, not orphaned
        assert not _running(pid, started), f"actor {pid} outlived cartridge run"
    assert_models_whole(store)
    games_before = assert_games_whole(data)
    assert games_before > 0
    # The newest complete version (metadata written) is the one to resume from; a kill
    # between its metadata and the `latest` pointer leaves the pointer one behind it.
    last_version = store.versions()[-1]
    last_checkpoint_step = store.info(last_version).step

    # ---- 3. run again: resume from the last checkpoint ------------------------------
    process = start_run(data, output)
    check = alive(process, output)
    trainer_log = data / "logs" / "trainer.log"
    wait_for(lambda: "resumed from model version" in trainer_log.read_text().split("----")[-1],
             180, "the trainer to resume", check)
    resumed = re.findall(r"resumed from model version (\d+) at step (\d+)",
                         trainer_log.read_text())[-1]
    assert (int(resumed[0]), int(resumed[1])) == (last_version, last_checkpoint_step)
    wait_for(lambda: (store.pointer("latest") or 0) > last_version, 300, "a new version", check)
    assert store.latest().step > last_checkpoint_step
    process.send_signal(signal.SIGINT)
    assert process.wait(120) == 0, output.read_text()[-3000:]
    assert "stopped (exit codes: trainer 0, actor 0 0, actor 1 0)" in output.read_text()
    assert_models_whole(store)
    assert assert_games_whole(data) > games_before


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on; None once the pid is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _start_time(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else int(stat[19])  # field 22: start time, in clock ticks


def _running(pid: int, started: int | None) -> bool:
    """The process that had `pid` and started at `started` still runs (a zombie has
    ended; another process with the same pid has another start time)."""
    stat = _stat(pid)
    return (started is not None and stat is not None and int(stat[19]) == started
            and stat[0] not in ("Z", "X"))
