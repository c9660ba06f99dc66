"""Score a Connect Four model on labelled positions: mistake rates by stage.

    .venv/bin/python scripts/connect4_score.py --model data/models/connect4/v000042/model.onnx \\
        --positions ../shared/connect4/moves.jsonl --sims 600 --answers answers.jsonl
    python3 ../shared/connect4/score.py answers.jsonl     # Pons' per-set table

For the network alone (argmax of the policy) and with evaluation-mode search at
--sims simulations ([mcts] knobs from config.toml otherwise), it prints one JSON
object: mistake rates by stage (beginning, middle, end, all). --answers writes the
search player's moves as {"moves", "column"} lines (1-based), the input of the Pons
benchmark's score.py, so figures compare with AlphaZero.jl's.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from cartridge.arena.agents import PolicyPlayer, search_player
from cartridge.arena.connect4_benchmark import connect4_benchmark, load_labelled_positions
from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.inference.onnx import OnnxEvaluator
from cartridge.mcts import SearchConfig

log = logging.getLogger("connect4_score")
CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model.onnx")
    parser.add_argument("--positions", type=Path, required=True, help="labelled JSONL")
    parser.add_argument("--sims", type=int, default=64, help="simulations per move")
    parser.add_argument("--answers", type=Path, help="write the search player's moves here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    game = get_game("connect4")
    try:
        positions = load_labelled_positions(args.positions)
        evaluator = OnnxEvaluator(args.model.read_bytes(), game=game, model_version=0,
                                  provider="cpu")
    except (OSError, ValueError) as err:
        log.error("%s", err)
        return 2
    search = SearchConfig.from_settings(load_settings(CONFIG, environ={}).mcts)
    searcher = search_player(game, evaluator, search, args.sims, np.random.default_rng(0))
    report = {}
    for mode, agent in (("network", PolicyPlayer(game, evaluator)), ("search", searcher)):
        result = connect4_benchmark(agent, positions)
        report[mode] = {stage: {"positions": r.positions, "mistake_rate": r.mistake_rate}
                        for stage, r in result.items()}
    print(json.dumps({"positions": str(args.positions), "sims": args.sims, **report}, indent=2))
    if args.answers:
        states = [game.apply_all(list(p.actions)) for p in positions]
        columns = [c for start in range(0, len(states), 512)
                   for c in searcher.choose(states[start:start + 512])]
        args.answers.write_text("".join(
            json.dumps({"moves": "".join(str(a + 1) for a in p.actions), "column": c + 1}) + "\n"
            for p, c in zip(positions, columns, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
