"""Section `arena`: games per second of a model-vs-model match, batched vs one at a time.

Two networks of config.toml's shape for Connect Four (random weights: speed does
not depend on them) play a match with evaluation-mode search at [arena]
num_simulations over the first CARTRIDGE_BENCH_ARENA_OPENINGS openings (both
seats): once as the arena plays it (all games advance together, one batched
search per ply and side), once game by game. Same games, same moves per game
count; the ratio is what batching buys.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from cartridge.arena.agents import search_player
from cartridge.arena.match import play_match_games
from cartridge.arena.openings import select_openings
from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.inference.onnx import OnnxEvaluator
from cartridge.mcts import SearchConfig
from cartridge.network import build_network, export_onnx
from cartridge.threads import thread_count

log = logging.getLogger("bench.arena")
CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
ENV_ID = os.environ.get("CARTRIDGE_BENCH_ARENA_ENV", "connect4")
OPENINGS = int(os.environ.get("CARTRIDGE_BENCH_ARENA_OPENINGS", "8"))


def run() -> dict:
    import torch

    settings = load_settings(CONFIG, environ={})
    game = get_game(ENV_ID)
    network = settings.network.for_game(ENV_ID)
    sims = settings.arena.num_simulations
    search = SearchConfig.from_settings(settings.mcts)
    threads = thread_count(settings.arena.threads, "[arena] threads", "ONNX Runtime intra-op pool")
    evaluators = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        onnx = export_onnx(build_network(game, network), game, network, step=seed)
        evaluators.append(OnnxEvaluator(onnx, game=game, model_version=seed, provider="cpu",
                                        intra_op_threads=threads))
    openings = select_openings(ENV_ID, OPENINGS)

    def players():
        return [search_player(game, e, search, sims, np.random.default_rng(i))
                for i, e in enumerate(evaluators)]

    started = time.perf_counter()
    batched = play_match_games(game, *players(), openings)
    batched_s = time.perf_counter() - started
    started = time.perf_counter()
    single = [result for opening in openings for seat in (0, 1)
              for result in play_match_games(game, *players(), [opening], seats=(seat,))]
    single_s = time.perf_counter() - started
    games = len(batched)
    result = {
        "env_id": ENV_ID, "network": network.model_dump(), "num_simulations": sims,
        "games": games, "threads": threads,
        "batched_games_per_s": round(games / batched_s, 3),
        "one_at_a_time_games_per_s": round(len(single) / single_s, 3),
        "speedup": round(single_s / batched_s, 2),
        "mean_plies": round(sum(r.plies for r in batched) / games, 1),
    }
    log.info("%s", result)
    return result
