"""Flags beat CARTRIDGE_* variables, which beat config.toml; bad config is one line and exit 2."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.trainer.helpers import REPO, write_config
from trainer.cli import install_stop_handlers, load

pytestmark = pytest.mark.usefixtures("clean_env")


def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path / "config.toml", batch_size=16, lr=0.5, steps=7)
    settings = load(["--config", str(config)])
    assert (settings.training.batch_size, settings.training.lr, settings.training.steps) == (
        16, 0.5, 7)

    monkeypatch.setenv("CARTRIDGE_TRAINING_BATCH_SIZE", "32")
    monkeypatch.setenv("CARTRIDGE_TRAINING_LR", "0.25")
    settings = load(["--config", str(config)])
    assert (settings.training.batch_size, settings.training.lr) == (32, 0.25)

    settings = load(["--config", str(config), "--batch-size", "64"])
    assert (settings.training.batch_size, settings.training.lr) == (64, 0.25)
    assert settings.training.steps == 7


def test_every_flag_reaches_its_key(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml")
    settings = load([
        "--config", str(config), "--env", "connect4", "--steps", "11", "--batch-size", "5",
        "--lr", "0.1", "--weight-decay", "0.2", "--grad-clip", "0.3",
        "--checkpoint-interval", "4", "--device", "cpu", "--no-lr-schedule",
        "--lr-min-ratio", "0.05", "--wait-interval", "0.5", "--max-wait", "9",
    ])
    t = settings.training
    assert settings.common.env_id == "connect4"
    assert (t.steps, t.batch_size, t.lr, t.weight_decay, t.grad_clip) == (11, 5, 0.1, 0.2, 0.3)
    assert (t.checkpoint_interval, t.device, t.lr_schedule) == (4, "cpu", False)
    assert (t.lr_min_ratio, t.wait_interval, t.max_wait) == (0.05, 0.5, 9.0)
    # Not given: the file's value stays.
    assert load(["--config", str(config)]).training.lr_schedule is True


def test_relative_path_flags_resolve_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "config.toml")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    settings = load(["--config", str(config), "--db", "r.db", "--model-dir", "m",
                     "--stats", "s/stats.json"])
    assert settings.data_path(settings.storage.sqlite_path) == work / "r.db"
    assert settings.data_path(settings.storage.model_dir) == work / "m"
    assert settings.data_path(settings.training.stats) == work / "s" / "stats.json"
    # Paths from the file stay under [common] data_dir.
    plain = load(["--config", str(config)])
    assert plain.data_path(plain.storage.sqlite_path) == Path("./data") / "replay.db"


def run_trainer(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trainer", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("setup", "flags", "named"),
    [
        ({"lr": -1.0}, [], "training.lr"),
        ({}, ["--batch-size", "0"], "training.batch_size"),
        ({}, ["--device", "tpu"], "training.device"),
        ({"ema_decay": 1.0}, [], "training.ema_decay"),
        ({"no_such_key": 1}, [], None),
    ],
)
def test_bad_configuration_is_one_clear_line_and_exit_2(
    tmp_path: Path, setup: dict, flags: list[str], named: str | None
) -> None:
    config = write_config(tmp_path / "config.toml", **{k: v for k, v in setup.items()
                                                        if k != "no_such_key"})
    if "no_such_key" in setup:
        config.write_text(config.read_text().replace("[training]\n", "[training]\nbogus = 1\n"))
        named = "training.bogus"
    result = run_trainer("--config", str(config), *flags, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    result = run_trainer("--config", str(tmp_path / "nope.toml"), cwd=REPO)
    assert result.returncode == 2
    assert "nope.toml" in result.stderr and "Traceback" not in result.stderr


def test_first_signal_asks_to_stop_the_second_restores_the_default() -> None:
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop = threading.Event()
        install_stop_handlers(stop)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = 50
        while signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL and deadline:
            threading.Event().wait(0.1)
            deadline -= 1
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
