"""`cartridge runs list`: each run's state from its own files, the table and --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cartridge.cli.main import main
from cartridge.runs.layout import RunDir
from cartridge.runs.listing import STALE_AFTER, list_runs
from cartridge.runs.processes import ProcessRef


def make_run(path: Path, *, state: str = "running", pid: int | None = None,
             heartbeat_age: float = 0.0, step: int = 250) -> RunDir:
    run = RunDir(path)
    path.mkdir(parents=True)
    run.meta.write_text(json.dumps({"starts": [{"game": "tictactoe"}]}))
    now = datetime.now(UTC)
    run.status.write_text(json.dumps({
        "state": state, "game": "tictactoe", "step": step, "target_steps": 1000,
        "model_version": 3, "started_at": (now - timedelta(seconds=600)).isoformat(),
        "heartbeat_at": (now - timedelta(seconds=heartbeat_age)).isoformat()}))
    if pid is not None:
        run.pid.write_text(json.dumps({**ProcessRef.of(pid).to_json(), "children": {}}))
    return run


def finished_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def states(root: Path, include_finished: bool = True) -> dict[str, str]:
    return {r.name: r.state for r in list_runs([root], include_finished=include_finished)}


def test_states_running_stale_dead_and_finished(tmp_path: Path) -> None:
    make_run(tmp_path / "live", pid=os.getpid())
    make_run(tmp_path / "quiet", pid=os.getpid(), heartbeat_age=STALE_AFTER + 5)
    make_run(tmp_path / "killed", pid=finished_pid())
    make_run(tmp_path / "done", state="completed")
    make_run(tmp_path / "halted", state="stopped")
    (tmp_path / "not-a-run").mkdir()
    assert states(tmp_path) == {"live": "running", "quiet": "stale", "killed": "dead",
                                "done": "completed", "halted": "stopped"}
    assert states(tmp_path, include_finished=False) == {
        "live": "running", "quiet": "stale", "killed": "dead"}


def test_a_recycled_pid_is_not_the_run(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", pid=os.getpid())
    record = json.loads(run.pid.read_text())
    run.pid.write_text(json.dumps({**record, "started": record["started"] + 1}))
    assert states(tmp_path) == {"r": "dead"}


def test_a_root_that_is_itself_a_run_is_listed(tmp_path: Path) -> None:
    make_run(tmp_path / "data", state="completed")
    assert [r.name for r in list_runs([tmp_path / "data"], include_finished=True)] == ["data"]


def test_list_prints_a_table_or_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(tmp_path / "a", pid=os.getpid(), step=250)
    make_run(tmp_path / "b", state="completed", step=1000)
    assert main(["runs", "list", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "GAME", "STATE", "STEP", "ELAPSED", "MODEL", "PID"]
    assert lines[1].split() == ["a", "tictactoe", "running", "250/1000", "(25%)",
                                lines[1].split()[5], "v3", str(os.getpid())]
    assert len(lines) == 2  # b is finished
    assert main(["runs", "list", str(tmp_path), "--all", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["state"], r["step"]) for r in rows] == [
        ("a", "running", 250), ("b", "completed", 1000)]
    assert rows[1]["elapsed_s"] == pytest.approx(600, abs=5)
    assert main(["runs", "list", str(tmp_path / "nothing")]) == 0
    assert "no runs found" in capsys.readouterr().out


def test_list_looks_in_the_current_folder_and_runs_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_run(tmp_path / "data", state="completed")  # make run's default run directory
    make_run(tmp_path / "runs" / "wide", state="stopped")
    make_run(tmp_path / "elsewhere" / "hidden", state="completed")  # under neither root
    monkeypatch.chdir(tmp_path)
    assert main(["runs", "list", "--all", "--json"]) == 0
    # Named by their path from the current folder, so `runs stop NAME` finds them.
    assert sorted(r["name"] for r in json.loads(capsys.readouterr().out)) == ["data", "runs/wide"]


def test_stop_names_unknown_finished_and_dead_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_run(tmp_path / "done", state="completed")
    make_run(tmp_path / "killed", pid=finished_pid())
    assert main(["runs", "stop", str(tmp_path / "nowhere")]) == 1
    assert "is not a run directory (no meta.json)" in caplog.text
    assert main(["runs", "stop", str(tmp_path / "done")]) == 1
    assert "is not running (it completed); nothing to stop" in caplog.text
    assert main(["runs", "stop", str(tmp_path / "killed")]) == 1
    assert "its supervisor died (state dead)" in caplog.text
