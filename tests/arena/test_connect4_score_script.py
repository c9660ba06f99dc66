"""scripts/connect4_score.py on a real model: stage and outcome figures, the value head's
reading by outcome, and answers score.py reads."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cartridge.arena.agents import search_player
from cartridge.arena.connect4_benchmark import choose_columns, load_labelled_positions
from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.inference.onnx import OnnxEvaluator
from cartridge.mcts import SearchConfig
from tests.actor.helpers import tiny_onnx
from tests.arena.helpers import late_positions

REPO = Path(__file__).resolve().parents[2]
SCORER = REPO.parent / "shared" / "connect4" / "score.py"


def run_script(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "scripts/connect4_score.py"),
                           *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_the_script_reports_stages_and_writes_answers_for_score_py(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(tiny_onnx("connect4", 1))
    positions = tmp_path / "positions.jsonl"
    positions.write_text("".join(json.dumps(r) + "\n" for r in late_positions(10, seed=7)))
    answers = tmp_path / "answers.jsonl"
    result = run_script("--model", model, "--positions", positions, "--sims", "8",
                        "--answers", answers)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["algorithm"] == "gumbel"  # config.toml's [mcts]
    labelled = load_labelled_positions(positions)
    outcomes = {p.outcome for p in labelled}
    for mode in ("network", "search"):
        assert report[mode]["all"]["positions"] == report[mode]["end"]["positions"] == 10
        assert 0 <= report[mode]["all"]["mistake_rate"] <= 1
        by_outcome = report[mode]["by_outcome"]
        assert set(by_outcome) == {*outcomes, "all"}
        assert by_outcome["all"] == report[mode]["all"]
        assert sum(by_outcome[o]["positions"] for o in outcomes) == 10
    # The value head's readings, by outcome, as the model gives them here.
    game = get_game("connect4")
    states = [game.apply_all(list(p.actions)) for p in labelled]
    evaluator = OnnxEvaluator(model.read_bytes(), game=game, model_version=0, provider="cpu")
    values = evaluator.evaluate(game.encode_batch(states), game.legal_mask_batch(states))[1]
    assert set(report["value"]) == outcomes
    for outcome in outcomes:
        mine = values[[p.outcome == outcome for p in labelled]]
        named = np.where(mine > 1 / 3, "won", np.where(mine < -1 / 3, "lost", "drawn"))
        assert report["value"][outcome] == pytest.approx(
            {"positions": len(mine), "mean": float(mine.mean()),
             "right_class_rate": float((named == outcome).mean())})
    lines = [json.loads(line) for line in answers.read_text().splitlines()]
    assert len(lines) == 10 and all(1 <= line["column"] <= 7 for line in lines)
    if not SCORER.exists():
        pytest.skip("the shared Pons scorer is not here")
    scored = subprocess.run([sys.executable, str(SCORER), str(answers), "--bench",
                             str(positions), "--json"], capture_output=True, text=True,
                            timeout=60)
    assert scored.returncode == 0, scored.stderr
    # score.py's outcome accuracy is 1 - our mistake rate, from the same answers.
    overall = json.loads(scored.stdout)["ALL"]
    assert overall["answered"] == 10 and overall["illegal"] == 0
    assert overall["outcome_acc"] == pytest.approx(1 - report["search"]["all"]["mistake_rate"])


def test_a_missing_model_is_named(tmp_path: Path) -> None:
    result = run_script("--model", tmp_path / "none.onnx", "--positions",
                        tmp_path / "p.jsonl", timeout=120)
    assert result.returncode == 2 and "p.jsonl" in result.stderr


def test_the_algorithm_flag_picks_the_search(tmp_path: Path) -> None:
    game = get_game("connect4")
    model = tmp_path / "model.onnx"
    model.write_bytes(tiny_onnx("connect4", 1))
    positions = tmp_path / "positions.jsonl"
    positions.write_text("".join(json.dumps(r) + "\n" for r in late_positions(30, seed=5)))
    answers = tmp_path / "answers.jsonl"
    result = run_script("--model", model, "--positions", positions, "--sims", "8",
                        "--algorithm", "puct", "--answers", answers)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["algorithm"] == "puct"
    # The answers are PUCT's choices (seeded as the script seeds it), not [mcts]'s Gumbel.
    labelled = load_labelled_positions(positions)
    evaluator = OnnxEvaluator(model.read_bytes(), game=game, model_version=0, provider="cpu")
    mcts = SearchConfig.from_settings(load_settings(REPO / "config.toml", environ={}).mcts)
    chosen = {algorithm: choose_columns(search_player(
        game, evaluator, dataclasses.replace(mcts, algorithm=algorithm), 8,
        np.random.default_rng(0)), labelled) for algorithm in ("puct", "gumbel")}
    assert chosen["gumbel"] != chosen["puct"]
    answered = [json.loads(line)["column"] - 1 for line in answers.read_text().splitlines()]
    assert answered == list(chosen["puct"])


def test_an_unknown_algorithm_is_refused_naming_the_choices(tmp_path: Path) -> None:
    result = run_script("--model", tmp_path / "m.onnx", "--positions", tmp_path / "p.jsonl",
                        "--algorithm", "alphabeta", timeout=120)
    assert result.returncode == 2
    assert "alphabeta" in result.stderr and "gumbel" in result.stderr
