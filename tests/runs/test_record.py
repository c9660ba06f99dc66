"""RunRecord, what the supervisor writes: the claim (one supervisor per run), leftover
children of a killed supervisor stopped first, the stop file, status.json's heartbeat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cartridge.config.settings import load_settings
from cartridge.runs.facts import RunDirMismatchError
from cartridge.runs.layout import RunDir
from cartridge.runs.processes import ProcessRef
from cartridge.runs.record import RunBusyError, RunRecord
from tests.actor.helpers import REPO


def settings_for(data_dir: Path, env_id: str = "tictactoe"):
    return load_settings(REPO / "config.toml", {
        "common": {"data_dir": data_dir, "env_id": env_id},
        "training": {"steps": 500}}, environ={})


def sleeper() -> subprocess.Popen[bytes]:
    """A real process that stands for a trainer that outlived its supervisor."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


def test_open_records_the_start_and_end_records_the_state(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    record = RunRecord.open(settings_for(run.path), REPO / "config.toml", stop_timeout=10)
    assert run.config.exists() and run.meta.exists()
    pid = json.loads(run.pid.read_text())
    assert pid["pid"] == os.getpid() and pid["children"] == {}
    record.children_started({"trainer": os.getpid()}, ["actor-x"])
    assert json.loads(run.pid.read_text())["children"]["trainer"]["pid"] == os.getpid()
    status = json.loads(run.status.read_text())
    assert (status["state"], status["target_steps"], status["step"]) == ("running", 500, 0)
    (run.path / "stats.json").write_text(json.dumps(
        {"env_id": "tictactoe", "step": 40, "model_version": 2, "replay_positions": 900}))
    (run.path / "actors").mkdir()
    (run.path / "actors" / "actor-x.json").write_text(json.dumps({"games": 5, "positions": 41}))
    record.end("completed")
    status = json.loads(run.status.read_text())
    assert status["state"] == "completed"
    assert (status["step"], status["model_version"], status["games"], status["positions"]) \
        == (40, 2, 5, 41)
    assert not run.pid.exists()
    again = RunRecord.open(settings_for(run.path), REPO / "config.toml", stop_timeout=10)
    again.end("stopped")  # the claim was released
    assert len(json.loads(run.meta.read_text())["starts"]) == 2


def test_a_second_supervisor_is_refused_while_the_first_holds_the_run(tmp_path: Path) -> None:
    first = RunRecord.open(settings_for(tmp_path), REPO / "config.toml", stop_timeout=10)
    try:
        with pytest.raises(RunBusyError, match=f"in use by a running supervisor \\(pid "
                                               f"{os.getpid()}\\).*runs stop"):
            RunRecord.open(settings_for(tmp_path), REPO / "config.toml", stop_timeout=10)
    finally:
        first.end("stopped")


def test_another_game_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    RunRecord.open(settings_for(tmp_path), REPO / "config.toml", stop_timeout=10).end("stopped")
    meta = (tmp_path / "meta.json").read_text()
    config = (tmp_path / "config.toml").read_text()
    with pytest.raises(RunDirMismatchError, match=r"tictactoe.*connect4"):
        RunRecord.open(settings_for(tmp_path, "connect4"), REPO / "config.toml", stop_timeout=10)
    assert (tmp_path / "meta.json").read_text() == meta
    assert (tmp_path / "config.toml").read_text() == config
    # The claim was released: the right game still opens.
    RunRecord.open(settings_for(tmp_path), REPO / "config.toml", stop_timeout=10).end("stopped")


def test_children_a_killed_supervisor_left_are_stopped_before_a_resume(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    RunRecord.open(settings_for(tmp_path), REPO / "config.toml", stop_timeout=10).end("stopped")
    leftover, gone = sleeper(), subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        # What a SIGKILLed supervisor leaves: its pid file naming a dead supervisor and
        # children, one of them still running.
        run.pid.write_text(json.dumps({
            "pid": gone.pid, "started": None,
            "children": {"trainer": ProcessRef.of(leftover.pid).to_json(),
                         "actor 0": {"pid": gone.pid, "started": 1}}}))
        record = RunRecord.open(settings_for(tmp_path), REPO / "config.toml", stop_timeout=30)
        assert leftover.wait(30) == -15  # SIGTERM
        record.end("stopped")
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()


def test_a_stop_file_stops_the_supervisor_at_its_next_tick(tmp_path: Path) -> None:
    record = RunRecord.open(settings_for(tmp_path), REPO / "config.toml", stop_timeout=10)
    stop = threading.Event()
    record.tick(stop)
    assert not stop.is_set()
    (tmp_path / "stop").touch()
    record.tick(stop)
    assert stop.is_set()
    record.end("stopped")
    assert not (tmp_path / "stop").exists()  # consumed: a resume is not stopped by it


def test_status_is_rewritten_on_a_tick_once_the_interval_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = RunRecord.open(settings_for(tmp_path), REPO / "config.toml", stop_timeout=10)
    status = tmp_path / "status.json"
    status.unlink()
    record.tick(threading.Event())
    assert not status.exists()  # within the interval: no write
    monkeypatch.setattr(record, "_next_status", time.monotonic())
    record.tick(threading.Event())
    assert json.loads(status.read_text())["state"] == "running"
    record.end("stopped")
