"""Score a Connect Four model on labelled positions: mistake rates by stage.

    .venv/bin/python scripts/connect4_score.py --model data/models/connect4/v000042/model.onnx \\
        --positions ../shared/connect4/moves.jsonl --sims 600 --answers answers.jsonl
    python3 ../shared/connect4/score.py answers.jsonl     # Pons' per-set table

For the network alone (argmax of the policy) and with evaluation-mode search at
--sims simulations (--algorithm, default [mcts]'s; the other [mcts] knobs from
config.toml), it prints one JSON
object: mistake rates by stage (beginning, middle, end, all) and, under "by_outcome",
by the position's perfect-play outcome for the side to move (won, drawn, lost: in a
drawn position a mistake loses it). "value" says, by outcome, how often the value head
names the right outcome (above 1/3 won, below -1/3 lost, drawn between) and its mean.
--answers writes the search player's moves as {"moves", "column"} lines (1-based), the
input of the Pons benchmark's score.py, so figures compare with AlphaZero.jl's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

import numpy as np

from cartridge.arena.agents import PolicyPlayer, search_player
from cartridge.arena.connect4_benchmark import (
    OUTCOMES,
    LabelledPosition,
    choose_columns,
    load_labelled_positions,
    tally_mistakes,
)
from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.games.base import Game
from cartridge.inference.onnx import OnnxEvaluator
from cartridge.mcts import SearchConfig
from cartridge.mcts.config import ALGORITHMS

log = logging.getLogger("connect4_score")
CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
# Value head readings that name a won (above) or lost (below minus it) position.
DECISIVE_VALUE = 1 / 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model.onnx")
    parser.add_argument("--positions", type=Path, required=True, help="labelled JSONL")
    parser.add_argument("--sims", type=int, default=64, help="simulations per move")
    parser.add_argument("--algorithm", choices=ALGORITHMS,
                        help="the search's algorithm (default: [mcts] algorithm in config.toml)")
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
    if args.algorithm:
        search = dataclasses.replace(search, algorithm=args.algorithm)
    searcher = search_player(game, evaluator, search, args.sims, np.random.default_rng(0))
    outcomes = [p.outcome for p in positions]
    report: dict = {}
    chosen = {}
    for mode, agent in (("network", PolicyPlayer(game, evaluator)), ("search", searcher)):
        chosen[mode] = columns = choose_columns(agent, positions)
        report[mode] = _rates(tally_mistakes(positions, columns))
        report[mode]["by_outcome"] = _rates(tally_mistakes(positions, columns, outcomes))
    report["value"] = _value_by_outcome(game, evaluator, positions)
    print(json.dumps({"positions": str(args.positions), "algorithm": search.algorithm,
                      "sims": args.sims, **report}, indent=2))
    if args.answers:
        args.answers.write_text("".join(
            json.dumps({"moves": "".join(str(a + 1) for a in p.actions), "column": c + 1}) + "\n"
            for p, c in zip(positions, chosen["search"], strict=True)))
    return 0


def _rates(result: dict) -> dict:
    return {group: {"positions": r.positions, "mistake_rate": r.mistake_rate}
            for group, r in result.items()}


def _value_by_outcome(game: Game, evaluator: OnnxEvaluator,
                      positions: list[LabelledPosition]) -> dict:
    """Per perfect-play outcome: how often the value head names it, and its mean value."""
    states = [game.apply_all(list(p.actions)) for p in positions]
    values = np.concatenate([
        evaluator.evaluate(game.encode_batch(states[start:start + 512]),
                           game.legal_mask_batch(states[start:start + 512]))[1]
        for start in range(0, len(states), 512)]) if states else np.zeros(0)
    named = np.where(values > DECISIVE_VALUE, "won",
                     np.where(values < -DECISIVE_VALUE, "lost", "drawn"))
    truth = np.array([p.outcome for p in positions])
    report = {}
    for outcome in OUTCOMES:
        chosen = truth == outcome
        if chosen.any():
            report[outcome] = {"positions": int(chosen.sum()),
                               "right_class_rate": float((named[chosen] == outcome).mean()),
                               "mean": float(values[chosen].mean())}
    return report


if __name__ == "__main__":
    sys.exit(main())
