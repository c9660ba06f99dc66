"""Run directories end to end, with real `cartridge run` processes on tic-tac-toe:
two runs under one root, `cartridge runs list`, `runs stop` one, SIGKILL the other's
supervisor (`dead`), then resume the dead one; a second supervisor on a live run and
a run of another game in the same directory are refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cartridge.config.settings import load_settings
from cartridge.modelstore.filesystem import FilesystemModelStore
from tests.actor.helpers import REPO, wait_for
from tests.e2e.test_embedded_run import TINY

pytestmark = pytest.mark.slow

SMALL = {**TINY, "CARTRIDGE_RUN_ACTORS": "1",
         # Retention by the trainer: only the two newest versions stay.
         "CARTRIDGE_STORAGE_MODEL_KEEP_LAST": "2", "CARTRIDGE_STORAGE_MODEL_KEEP_EVERY": "0"}


def _env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    return {**clean, **SMALL}


def cartridge(*args: str, output: Path) -> subprocess.Popen[bytes]:
    with open(output, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "cartridge.cli.main", *args],
                                env=_env(), stdout=out, stderr=subprocess.STDOUT)


def start_run(run_dir: Path, output: Path, *extra: str) -> subprocess.Popen[bytes]:
    return cartridge("run", "--config", str(REPO / "config.toml"), "--run-dir", str(run_dir),
                     *extra, output=output)


def runs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cartridge.cli.main", "runs", *args],
                          env=_env(), capture_output=True, text=True, timeout=180, check=False)


def listed(root: Path, *flags: str) -> dict[str, dict[str, Any]]:
    result = runs("list", str(root), "--json", *flags)
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def alive(process: subprocess.Popen[bytes], output: Path):
    def check() -> str | None:
        if process.poll() is None:
            return None
        return f"cartridge run exited {process.returncode}:\n{output.read_text()[-3000:]}"
    return check


def read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def test_two_runs_listed_stopped_killed_and_resumed(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    a_dir, b_dir = root / "a", root / "b"
    a_out, b_out = tmp_path / "a.out", tmp_path / "b.out"
    a_store = FilesystemModelStore(a_dir / "models", "tictactoe")
    b_store = FilesystemModelStore(b_dir / "models", "tictactoe")

    # ---- two runs under one root, both training ----------------------------------------
    a, b = start_run(a_dir, a_out), start_run(b_dir, b_out)
    try:
        wait_for(lambda: (a_store.pointer("latest") or 0) >= 4, 300, "run a's v4", alive(a, a_out))
        wait_for(lambda: (b_store.pointer("latest") or 0) >= 1, 300, "run b's v1", alive(b, b_out))
        wait_for(lambda: read(a_dir / "status.json").get("step", 0) > 0, 60, "a's status step")
        rows = listed(root)
        assert set(rows) == {"a", "b"}
        for name, process in (("a", a), ("b", b)):
            assert rows[name]["state"] == "running"
            assert rows[name]["game"] == "tictactoe"
            assert rows[name]["pid"] == process.pid
            assert rows[name]["target_steps"] == 100000
        table = runs("list", str(root)).stdout
        assert "NAME" in table and "running" in table and "/100000 (" in table

        # ---- a second supervisor on a live run is refused ------------------------------
        second = start_run(b_dir, tmp_path / "b2.out")
        assert second.wait(120) == 2
        assert "in use by a running supervisor" in (tmp_path / "b2.out").read_text()

        # ---- runs stop a: SIGTERM to its supervisor, children stop cleanly -------------
        stopped = runs("stop", str(a_dir))
        assert stopped.returncode == 0, stopped.stderr
        assert "stopped" in stopped.stderr
        assert a.wait(60) == 0
        assert "stopped (exit codes: trainer 0, actor 0 0)" in a_out.read_text()
        assert read(a_dir / "status.json")["state"] == "stopped"
        assert not (a_dir / "pid").exists()

        # ---- the recorded config.toml reproduces a's settings ---------------------------
        used = load_settings(REPO / "config.toml", {"common": {"data_dir": a_dir.resolve()}},
                             environ=SMALL)
        assert load_settings(a_dir / "config.toml", environ={}) == used

        # ---- what a's models carry, and what retention left ---------------------------
        latest = a_store.latest()
        assert latest is not None and latest.run is not None
        start = read(a_dir / "meta.json")["starts"][-1]
        assert {k: latest.run[k] for k in start} == start
        assert latest.run["trainer"]["device"] == "cpu"  # what it chose: seed and device
        assert f"seed {latest.run['trainer']['seed']}," in (a_dir / "logs" / "trainer.log")\
            .read_text()
        assert latest.run["settings"]["common"]["data_dir"] == str(a_dir.resolve())
        assert a_store.versions() == [latest.version - 1, latest.version]

        # ---- SIGKILL b's supervisor: b is dead ------------------------------------------
        pids = read(b_dir / "pid")
        b.send_signal(signal.SIGKILL)
        assert b.wait(60) == -signal.SIGKILL
        rows = listed(root)
        assert set(rows) == {"b"}  # a has finished: only --all shows it
        assert rows["b"]["state"] == "dead"
        rows = listed(root, "--all")
        assert (rows["a"]["state"], rows["b"]["state"]) == ("stopped", "dead")
        refused = runs("stop", str(b_dir))
        assert refused.returncode == 1 and "resumes it" in refused.stderr
        # Its children got SIGTERM from the kernel (PR_SET_PDEATHSIG) and checkpoint.
        wait_for(lambda: all(_gone(c["pid"]) for c in pids["children"].values()), 120,
                 "b's children to stop")

        # ---- another game in a's directory is refused, naming both ---------------------
        other = start_run(a_dir, tmp_path / "a2.out", "--env", "connect4")
        assert other.wait(120) == 2
        message = (tmp_path / "a2.out").read_text()
        assert "belongs to game tictactoe" in message and "asks for game connect4" in message

        # ---- cartridge run on b resumes it ----------------------------------------------
        b_version = b_store.pointer("latest")
        b = start_run(b_dir, b_out)
        trainer_log = b_dir / "logs" / "trainer.log"
        wait_for(lambda: "resumed from model version" in trainer_log.read_text()
                 .split("----")[-1], 180, "b's trainer to resume", alive(b, b_out))
        expected = f"its last supervisor (pid {pids['pid']}) ended without cleaning up"
        assert expected in b_out.read_text()
        assert len(read(b_dir / "meta.json")["starts"]) == 2
        wait_for(lambda: (b_store.pointer("latest") or 0) > b_version, 300, "b's next version",
                 alive(b, b_out))
        assert listed(root)["b"]["state"] == "running"
        assert runs("stop", str(b_dir)).returncode == 0
        assert b.wait(60) == 0
        assert read(b_dir / "status.json")["state"] == "stopped"
    finally:
        for process in (a, b):
            if process.poll() is None:
                process.kill()
                process.wait()


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
