"""`cartridge move`, run as a real subprocess the way people run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cartridge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cartridge.cli.main", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_single_position_prints_action_value_and_visits():
    done = cartridge("move", "--env", "tictactoe", "--sims", "300", "--actions", "0,3,1,4")
    assert done.returncode == 0, done.stderr
    assert "action: 2" in done.stdout
    value = float(next(line for line in done.stdout.splitlines() if line.startswith("value:"))
                  .split()[1])
    assert value > 0.5
    assert "visits: " in done.stdout


def test_positions_file_answers_every_line_and_reports_bad_ones(tmp_path):
    lines = [
        json.dumps({"actions": [0, 1, 0, 1, 0, 1]}),  # connect4: win at column 0
        json.dumps({"actions": [0, 0, 0, 0, 0, 0, 0]}),  # column 0 overflows
        "{not json",
        json.dumps({"moves": "4455"}),
        json.dumps({"actions": [3, "x"]}),
        json.dumps({"actions": []}),
    ]
    path = tmp_path / "positions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = cartridge("move", "--env", "connect4", "--sims", "200", "--positions", str(path))
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == 6
    assert answers[0]["action"] == 0 and answers[0]["actions"] == [0, 1, 0, 1, 0, 1]
    assert sum(answers[0]["policy"]) == pytest.approx(1.0, abs=1e-3)
    assert len(answers[0]["policy"]) == 7
    assert "column 0 is full" in answers[1]["error"]
    assert "not JSON" in answers[2]["error"]
    assert '"actions"' in answers[3]["error"]
    assert "integers" in answers[4]["error"]
    assert answers[5]["action"] in range(7)
    for number, answer in enumerate(answers[1:5], 2):
        assert answer["line"] == number and f"positions.jsonl:{number}" in answer["error"]


@pytest.mark.parametrize(("args", "message"), [
    (["--env", "chess", "--actions", "1"], "unknown game 'chess'"),
    (["--env", "connect4", "--actions", "3,x"], "comma-separated integers"),
    (["--env", "tictactoe", "--actions", "0,3,1,4,2"], "already over"),
    (["--env", "tictactoe", "--actions", "0,0"], "occupied"),
    (["--env", "tictactoe", "--actions", "1", "--model", "/nonexistent.onnx"], "nonexistent.onnx"),
])
def test_bad_input_is_a_clear_error(args, message):
    done = cartridge("move", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_model_drives_the_search(tmp_path):
    torch = pytest.importorskip("torch")
    from cartridge.config import load_settings
    from cartridge.games import get_game
    from cartridge.network import build_network, export_onnx

    game = get_game("tictactoe")
    config = load_settings(ROOT / "config.toml", environ={}).network.for_game("tictactoe")
    torch.manual_seed(0)
    model_path = tmp_path / "model.onnx"
    model_path.write_bytes(export_onnx(build_network(game, config), game, config, step=0))
    uniform = cartridge("move", "--env", "tictactoe", "--sims", "16", "--actions", "")
    guided = cartridge("move", "--env", "tictactoe", "--sims", "16", "--actions", "",
                       "--model", str(model_path))
    assert uniform.returncode == 0 and guided.returncode == 0, guided.stderr
    visits = [line for line in (uniform.stdout, guided.stdout)]
    assert visits[0] != visits[1]  # random-weight priors and values change the visit counts


def test_a_big_search_answers_fewer_positions_at_a_time(monkeypatch):
    """Trees are sized by simulations x actions: the batch shrinks instead of memory running out."""
    import numpy as np

    from cartridge import play
    from cartridge.games import get_game
    from cartridge.inference import UniformEvaluator
    from cartridge.mcts import SearchConfig

    class Recording(UniformEvaluator):
        def __init__(self) -> None:
            self.sizes: list[int] = []

        def evaluate(self, observations, legal_masks):
            self.sizes.append(len(observations))
            return super().evaluate(observations, legal_masks)

    game = get_game("connect4")
    config = SearchConfig(num_simulations=50)
    per_slot = 2 * (config.num_simulations + 1) * game.num_actions
    monkeypatch.setattr(play, "MAX_TREE_ENTRIES", 3 * per_slot)  # room for 3 trees
    evaluator = Recording()
    lines = [[c] for c in range(7)]
    answers = play.answer_positions(game, evaluator, config, lines, np.random.default_rng(0))
    assert [a.actions for a in answers] == lines
    assert max(evaluator.sizes) <= 3
