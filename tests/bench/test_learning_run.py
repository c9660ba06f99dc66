"""A learning curve's run: `cartridge run` in real subprocesses, to the end of its
[training] steps (tic-tac-toe, a few steps, so a whole run takes seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import bench.learning
from bench.learning import _judge, _run_until, learning_curve
from cartridge.arena.agents import search_player
from cartridge.arena.connect4_benchmark import connect4_benchmark, load_labelled_positions
from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.inference.onnx import OnnxEvaluator
from cartridge.mcts import SearchConfig
from cartridge.threads import cpu_budget
from tests.actor.helpers import tiny_onnx
from tests.arena.helpers import late_positions


def _python(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


def test_waiting_for_a_checkpoint_reports_a_run_that_finished() -> None:
    finished = _python("pass")
    assert _run_until(time.time() + 120, finished, poll_s=0.05) is True
    assert finished.returncode == 0


def test_waiting_for_a_checkpoint_returns_at_the_deadline_while_the_run_trains() -> None:
    running = _python("import time; time.sleep(60)")
    try:
        assert _run_until(time.time() + 0.3, running, poll_s=0.05) is False
        assert running.poll() is None
    finally:
        running.kill()
        running.wait()


def test_waiting_for_a_checkpoint_names_a_failed_run() -> None:
    failed = _python("raise SystemExit(3)")
    with pytest.raises(RuntimeError, match="exited early with code 3"):
        _run_until(time.time() + 120, failed, poll_s=0.05)


@pytest.mark.slow
def test_a_run_that_finishes_its_steps_ends_the_curve_with_its_last_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before, the trainer reaching [training] steps ahead of a checkpoint (3x48 on a
    # fast CPU makes 100,000 steps in under 2 hours) failed the whole curve, unjudged.
    monkeypatch.setattr(bench.learning, "_snapshots", lambda env_id: tmp_path / env_id)
    monkeypatch.setattr(bench.learning, "REPO", tmp_path)
    changes = {"CARTRIDGE_TRAINING_STEPS": "20", "CARTRIDGE_TRAINING_CHECKPOINT_INTERVAL": "10",
               "CARTRIDGE_TRAINING_MIN_POSITIONS": "100", "CARTRIDGE_RUN_ACTORS": "1",
               "CARTRIDGE_RUN_ARENA": "false", "CARTRIDGE_RUN_WEB": "false"}
    # The second checkpoint is never waited for: the run ends long before the first.
    curve = learning_curve("tictactoe", "short", changes, (600.0, 1200.0))

    assert [s["step"] for s in curve["snapshots"]] == [20]
    last = curve["snapshots"][0]
    assert last["trainer_finished"] is True and last["published_s"] < 600
    assert (tmp_path / last["model"]).stat().st_size > 0
    saved = json.loads((tmp_path / "tictactoe" / "short" / "curve.json").read_text())
    assert saved["snapshots"] == curve["snapshots"]


def test_the_judge_scores_with_the_mcts_search_and_records_which(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Curves judged before Gumbel became [mcts]'s search were PUCT's: each snapshot names
    # its judge's search so the tables can tell them apart.
    records = [{**r, "set": "L2_R2"} for r in late_positions(12, seed=3)]
    pons = tmp_path / "moves.jsonl"
    pons.write_text("".join(json.dumps(r) + "\n" for r in records))
    monkeypatch.setattr(bench.learning, "PONS", pons)
    monkeypatch.setattr(bench.learning, "OWN_POSITIONS", tmp_path / "none.jsonl")
    model = tmp_path / "model.onnx"
    model.write_bytes(tiny_onnx("connect4", 1))

    judged = _judge(model)

    settings = load_settings(bench.learning.CONFIG, environ={})
    mcts = SearchConfig.from_settings(settings.mcts)
    assert judged["search_algorithm"] == mcts.algorithm == "gumbel"
    assert judged["search_simulations"] == settings.arena.num_simulations
    game = get_game("connect4")
    evaluator = OnnxEvaluator(model.read_bytes(), game=game, model_version=0, provider="cpu",
                              intra_op_threads=cpu_budget().cpus)  # as the judge's
    rates = connect4_benchmark(
        search_player(game, evaluator, mcts, settings.arena.num_simulations,
                      np.random.default_rng(0)),
        load_labelled_positions(pons), groups=["Middle-Medium"] * len(records))
    assert judged["pons_search"] == {
        group: round(100 * result.mistake_rate, 1) for group, result in rates.items()}
    assert "not found" in judged["own"]
