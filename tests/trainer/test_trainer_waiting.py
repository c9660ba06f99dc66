"""The trainer waits for the replay buffer to exist and fill; max_wait ends it clearly."""

import subprocess
import sys
from pathlib import Path

import pytest

from cartridge.replay.sqlite import SqliteReplayStore
from tests.trainer.helpers import fill_replay, write_config
from trainer.waiting import ReplayWaitTimeoutError, wait_for_replay


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_waits_for_the_database_to_appear_and_fill(tmp_path: Path) -> None:
    path = tmp_path / "replay.db"
    clock = FakeClock()
    opens: list[bool] = []

    def open_replay() -> SqliteReplayStore | None:
        opens.append(path.exists())
        return SqliteReplayStore(path) if path.exists() else None

    def wait(seconds: float) -> bool:
        clock.now += seconds
        # First the actor creates the database, then it writes games.
        if clock.now == 1.0:
            SqliteReplayStore(path).close()
        if clock.now == 3.0:
            fill_replay(path, "tictactoe", games=20)
        return False

    store = wait_for_replay(open_replay, where=str(path), env_id="tictactoe", min_positions=50,
                            interval=1.0, max_wait=100.0, wait=wait, clock=clock)
    assert store is not None
    try:
        assert store.stats("tictactoe").positions >= 50
    finally:
        store.close()
    assert clock.now == 3.0
    assert opens == [False, True]  # opened once it existed, then only counted


def test_gives_up_after_max_wait_naming_the_count_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "replay.db"
    fill_replay(path, "tictactoe", games=2)
    clock = FakeClock()

    def wait(seconds: float) -> bool:
        clock.now += seconds
        return False

    with pytest.raises(ReplayWaitTimeoutError) as caught:
        wait_for_replay(lambda: SqliteReplayStore(path), where=str(path), env_id="tictactoe",
                        min_positions=1000, interval=2.0, max_wait=10.0, wait=wait, clock=clock)
    message = str(caught.value)
    assert str(path) in message and "min_positions" in message and "1000" in message
    assert clock.now == 10.0


def test_stop_while_waiting_returns_none(tmp_path: Path) -> None:
    assert wait_for_replay(lambda: None, where="x", env_id="tictactoe", min_positions=1,
                           interval=1.0, max_wait=0.0, wait=lambda s: True) is None


@pytest.mark.slow
def test_trainer_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", min_positions=500)
    result = subprocess.run(
        [sys.executable, "-m", "trainer", "--config", str(config), "--env", "tictactoe",
         "--db", "missing.db", "--model-dir", "models", "--stats", "stats.json",
         "--max-wait", "1", "--wait-interval", "0.2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "gave up after" in result.stderr
    assert str(tmp_path / "missing.db") in result.stderr
    assert "min_positions" in result.stderr
    assert not (tmp_path / "missing.db").exists()  # the trainer never creates the buffer
