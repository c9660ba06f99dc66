"""The trainer as a real process: real SQLite replay, real filesystem model store.

SIGTERM finishes the step, checkpoints and exits 0; SIGKILL mid-run loses at
most the steps since the last checkpoint, and a restart resumes there; every
published model is whole and its ONNX matches the checkpoint's weights.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from cartridge.config.settings import NetworkConfig
from cartridge.games import get_game
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.network import build_network
from cartridge.replay.sqlite import SqliteReplayStore
from tests.trainer.helpers import fill_replay, synthetic_game, write_config
from trainer import checkpoint
from trainer.schedule import learning_rate

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("clean_env")]

ENV = "tictactoe"
NETWORK = NetworkConfig(kind="mlp", blocks=2, channels=32)
TRAINING = {"batch_size": 32, "min_positions": 100, "warmup_steps": 4, "lr": 0.01,
            "checkpoint_interval": 5, "device": "cpu", "wait_interval": 0.2, "seed": 1}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_config(tmp_path / "config.toml", **TRAINING)
    fill_replay(tmp_path / "replay.db", ENV, games=300)
    return tmp_path


class Trainer(subprocess.Popen[str]):
    """A trainer process whose output goes to a file: a pipe nobody reads while the
    test waits would block the trainer once it filled (64 KiB)."""

    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(workdir: Path, steps: int, when_done: str = "exit") -> Trainer:
    env = {**os.environ, "CARTRIDGE_NETWORK_TICTACTOE_CHANNELS": str(NETWORK.channels),
           "CARTRIDGE_NETWORK_TICTACTOE_BLOCKS": str(NETWORK.blocks),
           "CARTRIDGE_TRAINING_WHEN_DONE": when_done}
    runs = len(list(workdir.glob("trainer-*.log")))
    log = workdir / f"trainer-{runs}.log"
    with log.open("w") as sink:
        process = Trainer(
            [sys.executable, "-m", "trainer", "--config", "config.toml", "--env", ENV,
             "--db", "replay.db", "--model-dir", "models", "--stats", "stats.json",
             "--steps", str(steps)],
            cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True,
        )
    process.log = log
    return process


def models(workdir: Path) -> FilesystemModelStore:
    return FilesystemModelStore(workdir / "models", ENV)


def wait_until(condition: Callable[[], bool], process: Trainer,
               timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"trainer exited early ({process.returncode}):\n{process.output()}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"timed out:\n{process.output()}")
        time.sleep(0.1)


def finish(process: Trainer) -> tuple[int, str]:
    try:
        process.wait(timeout=300)
    finally:
        if process.returncode is None:
            process.kill()
            process.wait()
    return process.returncode, process.output()


def latest_step(workdir: Path) -> int:
    info = models(workdir).latest()
    return -1 if info is None else info.step


def test_sigterm_finishes_the_step_checkpoints_and_exits_0(workdir: Path) -> None:
    process = start(workdir, steps=100_000)
    wait_until(lambda: latest_step(workdir) >= 5, process)
    process.send_signal(signal.SIGTERM)
    code, output = finish(process)
    assert code == 0, output
    assert "SIGTERM" in output
    stats = json.loads((workdir / "stats.json").read_text())
    store = models(workdir)
    latest = store.latest()
    assert latest is not None
    # Nothing trained is lost: the last model is the step the trainer stopped at.
    assert latest.step == stats["step"] >= 5
    assert stats["model_version"] == latest.version
    # On the CPU the trainer timed both precisions at start and says which it chose.
    assert f"in {stats['autocast']} (measured samples/s: float32 " in output
    with SqliteReplayStore(workdir / "replay.db") as replay:
        assert stats["replay_positions"] == replay.stats(ENV).positions > 0
    assert checkpoint.from_bytes(store.load_checkpoint(latest.version)).step == latest.step


def test_sigkill_then_restart_resumes_from_the_last_checkpoint(workdir: Path) -> None:
    process = start(workdir, steps=100_000)
    wait_until(lambda: latest_step(workdir) >= 10, process)
    process.kill()
    process.wait()
    store = models(workdir)
    # No model is partial: every listed version verifies (sha256) and loads.
    for version in store.versions():
        ort.InferenceSession(store.load_onnx(version))
        checkpoint.from_bytes(store.load_checkpoint(version))
    # The kill may land between a version's meta.json and the `latest` pointer: that
    # version is complete (it is listed and verifies), so it is the one to resume from.
    resume_step = max(store.info(v).step for v in store.versions())
    assert resume_step >= store.latest().step
    assert resume_step % TRAINING["checkpoint_interval"] == 0
    before = set(store.versions())

    process = start(workdir, steps=resume_step + 7)
    code, output = finish(process)
    assert code == 0, output
    assert f"at step {resume_step}" in output  # "resumed from model version N at step S"
    stats = json.loads((workdir / "stats.json").read_text())
    assert stats["step"] == resume_step + 7
    store = models(workdir)
    new_steps = [store.info(v).step for v in store.versions() if v not in before]
    assert new_steps == [resume_step + 5, resume_step + 7]  # carried on, not from step 0
    # The learning rate continues the schedule as if nothing had happened.
    config = {k: TRAINING[k] for k in ("lr", "warmup_steps")}
    expected = learning_rate(resume_step + 6, peak=config["lr"], total_steps=resume_step + 7,
                             warmup_steps=config["warmup_steps"], min_ratio=0.1)
    assert stats["learning_rate"] == pytest.approx(expected)


def test_steps_run_ends_with_a_model_that_matches_its_checkpoint(workdir: Path) -> None:
    code, output = finish(start(workdir, steps=7))
    assert code == 0, output
    store = models(workdir)
    latest = store.latest()
    assert latest is not None and latest.step == 7
    assert [store.info(v).step for v in store.versions()] == [5, 7]

    game = get_game(ENV)
    state = checkpoint.from_bytes(store.load_checkpoint(latest.version))
    network = build_network(game, NETWORK)
    network.load_state_dict(state.model)
    network.eval()
    record = synthetic_game(ENV, np.random.default_rng(5))
    with torch.no_grad():
        logits, values = network(torch.from_numpy(record.observations))
    session = ort.InferenceSession(store.load_onnx(latest.version))
    onnx_logits, onnx_values = session.run(None, {"observations": record.observations})
    np.testing.assert_allclose(onnx_logits, logits.numpy(), atol=1e-4)
    np.testing.assert_allclose(onnx_values, values.numpy(), atol=1e-4)
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["cartridge.step"] == "7"


def test_when_done_idle_waits_for_sigterm_instead_of_exiting(workdir: Path) -> None:
    """Containers restart a trainer that exits; a finished one idles until stopped."""
    code, output = finish(start(workdir, steps=5))
    assert code == 0 and "nothing to do" not in output, output
    # Already at the target: "exit" returns at once, "idle" waits for SIGTERM.
    code, output = finish(start(workdir, steps=5))
    assert code == 0 and "nothing to do" in output, output
    idle = start(workdir, steps=5, when_done="idle")
    # SIGTERM only once the trainer says it idles: its handler is installed after the
    # imports (torch), so an earlier signal would end it with the default action.
    wait_until(lambda: "idling until stopped" in idle.output(), idle)
    assert idle.poll() is None, idle.output()  # still there: it waits instead of exiting
    idle.send_signal(signal.SIGTERM)
    code, output = finish(idle)
    assert code == 0, output
    assert "idling until stopped" in output
    assert "SIGTERM" in output  # it ended on the signal, not on its own
    assert [models(workdir).info(v).step for v in models(workdir).versions()] == [5]
