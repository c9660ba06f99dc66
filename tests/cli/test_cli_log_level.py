"""[common] log_level reaches the `cartridge` commands that load settings after
logging is configured (run, move, models): real subprocesses, with a clean environment
(no CARTRIDGE_* variables but the one under test)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cartridge.modelstore.filesystem import FilesystemModelStore

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config.toml"


def cartridge(*args: str, log_level: str, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    env.update(variables, CARTRIDGE_COMMON_LOG_LEVEL=log_level)
    return subprocess.run([sys.executable, "-m", "cartridge.cli.main", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_move_log_level(tmp_path: Path) -> None:
    # More positions than one search batch: progress lines at INFO; plus one
    # illegal line, reported at WARNING.
    path = tmp_path / "positions.jsonl"
    path.write_text('{"actions": []}\n' * 257 + '{"actions": [0, 0]}\n')
    args = ("move", "--env", "tictactoe", "--sims", "1", "--config", str(CONFIG),
            "--positions", str(path))

    shown = cartridge(*args, log_level="INFO")
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"INFO cartridge\.play: answered \d+/257 positions", shown.stderr)
    assert "WARNING cartridge.cli.move: 1 of 258 lines had errors" in shown.stderr

    quiet = cartridge(*args, log_level="WARNING")
    assert quiet.returncode == 0, quiet.stderr
    assert " INFO " not in quiet.stderr
    assert "/257 positions" not in quiet.stderr
    assert "WARNING cartridge.cli.move: 1 of 258 lines had errors" in quiet.stderr
    assert quiet.stdout.count("\n") == shown.stdout.count("\n") == 258  # same answers

    silent = cartridge(*args, log_level="ERROR")
    assert silent.returncode == 0 and silent.stderr == ""


def test_models_log_level(tmp_path: Path) -> None:
    store = FilesystemModelStore(tmp_path / "models", "tictactoe")
    store.publish(b"model bytes", b"checkpoint bytes", step=1, network={"kind": "mlp"})
    args = ("models", "--config", str(CONFIG), "promote", "1")
    data_dir = {"CARTRIDGE_COMMON_DATA_DIR": str(tmp_path)}

    shown = cartridge(*args, log_level="INFO", **data_dir)
    assert shown.returncode == 0, shown.stderr
    assert "best now points at version 1" in shown.stderr

    quiet = cartridge(*args, log_level="WARNING", **data_dir)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert store.pointer("best") == 1

    # Errors still show at WARNING.
    missing = cartridge("models", "--config", str(CONFIG), "download", "best",
                        str(tmp_path / "x"), log_level="WARNING",
                        CARTRIDGE_COMMON_DATA_DIR=str(tmp_path / "empty"))
    assert missing.returncode == 1
    assert "ERROR" in missing.stderr and "no best pointer" in missing.stderr


@pytest.mark.slow
@pytest.mark.parametrize("log_level", ["INFO", "WARNING"])
def test_run_log_level(tmp_path: Path, log_level: str) -> None:
    # A trainer that has nothing to do ([training] steps = 0) exits 0 at once, and
    # `cartridge run` stops its actor and exits 0: a whole run in a few seconds.
    done = cartridge("run", "--config", str(CONFIG), "--data-dir", str(tmp_path),
                     "--actors", "1", log_level=log_level, CARTRIDGE_TRAINING_STEPS="0",
                     CARTRIDGE_RUN_ARENA="false", CARTRIDGE_RUN_WEB="false")
    assert done.returncode == 0, done.stderr
    info_lines = [line for line in done.stderr.splitlines() if " INFO cartridge.run: " in line]
    if log_level == "INFO":
        assert any("cartridge run: tictactoe, 1 trainer + 1 actors" in line
                   for line in info_lines), done.stderr
        assert any("the trainer finished [training] steps" in line for line in info_lines)
    else:
        assert info_lines == [], done.stderr
        assert " INFO " not in done.stderr
    # The children get the level too, through the environment they inherit.
    trainer_log = (tmp_path / "logs" / "trainer.log").read_text()
    assert (" INFO trainer" in trainer_log) == (log_level == "INFO"), trainer_log
    assert not (tmp_path / "run.json").exists()
