"""`cartridge runs stop --kill`: the supervisor and every child it recorded are killed,
and the run is left `dead` for `cartridge run` to resume. Real processes stand in for
the supervisor and its trainer (each ignores SIGTERM, as a stuck shutdown would)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from cartridge.cli.main import main
from cartridge.runs.listing import list_runs
from cartridge.runs.processes import ProcessRef
from tests.runs.test_listing import make_run

STUCK = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "print('ready', flush=True); time.sleep(600)")


def stuck_process() -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", STUCK], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def test_kill_ends_the_supervisor_and_its_children(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cartridge.runs")
    supervisor, trainer = stuck_process(), stuck_process()
    try:
        run = make_run(tmp_path / "r", pid=supervisor.pid)
        record = json.loads(run.pid.read_text())
        record["children"] = {"trainer": ProcessRef.of(trainer.pid).to_json()}
        run.pid.write_text(json.dumps(record))
        assert main(["runs", "stop", "--kill", str(run.path)]) == 0
        assert supervisor.wait(30) == -9 and trainer.wait(30) == -9
        assert f"killed (pids {supervisor.pid}, {trainer.pid})" in caplog.text
        assert [r.state for r in list_runs([tmp_path], include_finished=True)] == ["dead"]
    finally:
        for process in (supervisor, trainer):
            if process.poll() is None:
                process.kill()
                process.wait()


# Stands in for a supervisor: ends when the stop file appears (the real one's tick check
# is tested in test_record.py).
WATCHES_STOP_FILE = ("import pathlib, sys, time; stop = pathlib.Path(sys.argv[1]); "
                     "print('ready', flush=True)\nwhile not stop.exists(): time.sleep(0.05)")


def test_a_signal_it_may_not_send_leaves_a_stop_file_and_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cartridge.runs")
    path = tmp_path / "r"
    supervisor = subprocess.Popen([sys.executable, "-c", WATCHES_STOP_FILE, str(path / "stop")],
                                  stdout=subprocess.PIPE, text=True)
    try:
        assert supervisor.stdout is not None and supervisor.stdout.readline() == "ready\n"
        run = make_run(path, pid=supervisor.pid)

        # Mock: these tests run as root, who may signal any process, so another user's
        # supervisor (the case the stop file exists for) is simulated by refusing os.kill.
        def refuse(pid: int, signum: int) -> None:
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr("cartridge.runs.processes.os.kill", refuse)
        assert main(["runs", "stop", str(run.path)]) == 0
        assert run.stop.exists() and supervisor.wait(5) == 0
        assert f"could not signal pid {supervisor.pid}" in caplog.text
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
