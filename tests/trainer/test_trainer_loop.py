"""The loop in-process on the real stores: the train/data ratio gate holds it until
actors add positions, then it carries on to [training] steps."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from cartridge.modelstore.filesystem import FilesystemModelStore
from tests.trainer.helpers import fill_replay, write_config
from trainer.cli import load
from trainer.loop import train
from trainer.wiring import trainer_inputs

pytestmark = pytest.mark.usefixtures("clean_env")


def test_ratio_gate_waits_for_fresh_positions_then_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path / "config.toml", batch_size=32, min_positions=40,
                          max_samples_per_position=1.0, wait_interval=0.05, device="cpu",
                          checkpoint_interval=100, seed=3)
    db = tmp_path / "replay.db"
    first = fill_replay(db, "tictactoe", games=10, seed=1)
    assert first < 4 * 32  # the data allows fewer than 4 steps
    settings = load(["--config", str(config), "--env", "tictactoe", "--db", str(db),
                     "--model-dir", str(tmp_path / "models"),
                     "--stats", str(tmp_path / "stats.json"), "--steps", "4"])
    stop = threading.Event()
    result: dict[str, int] = {}
    caplog.set_level(logging.INFO, logger="trainer")
    worker = threading.Thread(target=lambda: result.update(step=train(trainer_inputs(settings),
                                                                      stop)))
    worker.start()
    try:
        deadline = time.monotonic() + 300
        while "train/data ratio reached" not in caplog.text:
            assert worker.is_alive(), caplog.text
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
        assert worker.is_alive()  # held by the gate, not finished
        fill_replay(db, "tictactoe", games=10, seed=2)
        worker.join(timeout=300)
        assert not worker.is_alive()
    finally:
        stop.set()
        worker.join()
    assert result["step"] == 4
    assert "training resumes" in caplog.text
    latest = FilesystemModelStore(tmp_path / "models", "tictactoe").latest()
    assert latest is not None and latest.step == 4
