"""Gumbel vs PUCT: evaluation-mode matches between the two searches over one model.

    .venv/bin/python scripts/gumbel_vs_puct.py --model model.onnx --env connect4 --sims 2 4 8 16

Both sides search with the same network and config.toml's [mcts] knobs (only the
algorithm differs), no root noise, at each simulation count; the arena's match code
plays every opening of its fixed set from both seats (Connect Four: 49 x 2 games),
all games batched. Wins, draws, losses and score are Gumbel's.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np

from cartridge.arena.match import play_match_games, summarise
from cartridge.arena.openings import select_openings
from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.inference.onnx import OnnxEvaluator
from cartridge.mcts import SearchConfig
from cartridge.players import MctsPlayer

log = logging.getLogger("gumbel_vs_puct")
CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="an exported ONNX model")
    parser.add_argument("--env", default="connect4")
    parser.add_argument("--sims", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--openings", type=int, default=0, help="at most this many (0 = all)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads")
    parser.add_argument("--considered", type=int, default=0,
                        help="Gumbel's gumbel_considered (0 = config.toml's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    game = get_game(args.env)
    evaluator = OnnxEvaluator(args.model.read_bytes(), game=game, model_version=1,
                              provider="cpu", intra_op_threads=args.threads)
    base = SearchConfig.from_settings(load_settings(CONFIG, environ={}).mcts)
    if args.considered:
        base = dataclasses.replace(base, gumbel_considered=args.considered)
    openings = select_openings(args.env, args.openings)
    for sims in args.sims:
        config = dataclasses.replace(base, num_simulations=sims)
        gumbel = MctsPlayer(game, evaluator, dataclasses.replace(config, algorithm="gumbel"),
                            np.random.default_rng(0))
        puct = MctsPlayer(game, evaluator, dataclasses.replace(config, algorithm="puct"),
                          np.random.default_rng(0))
        result = summarise(play_match_games(game, gumbel, puct, openings))
        log.info("%s sims=%d m=%d: gumbel vs puct %s, score %.3f over %d games", args.env,
                 sims, base.gumbel_considered, result, result.score, result.games)


if __name__ == "__main__":
    main()
