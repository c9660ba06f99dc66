"""`cartridge run --run-dir`: it is the data directory; conflicting flags are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.actor.helpers import REPO


def test_run_dir_and_a_different_data_dir_are_refused_naming_both(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "cartridge.cli.main", "run", "--config", str(REPO / "config.toml"),
         "--run-dir", str(tmp_path / "a"), "--data-dir", str(tmp_path / "b")],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert f"--run-dir {tmp_path / 'a'} and --data-dir {tmp_path / 'b'} differ" in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
