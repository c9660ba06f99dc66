"""Sections `int8` (Connect Four) and `int8_othello` (both opt-in): a model quantized to
int8 against its fp32 self.

The model is $CARTRIDGE_BENCH_MODEL (an exported model.onnx of that game, best a trained
one), else the game's default network of config.toml with random weights (its speed
holds, its agreement means little). It is quantized the trainer's way
(cartridge.network.quantize), calibrated on 512 positions of random play (the trainer
takes its last training batch; a bench has no replay buffer). Measured:

- quantize_s: one quantize_int8 call, the trainer's extra cost per checkpoint (best of 3);
- evals/s of ONNX Runtime alone (OnnxEvaluator) at batch 128 on random-play positions,
  fp32 and int8, with 1 and 2 intra-op threads (spinning on);
- agreement of int8 with fp32 on labelled positions, $CARTRIDGE_BENCH_POSITIONS (Connect
  Four only: Pons' positions as scripts/connect4_positions.py writes them; the first
  1000), else 1000 positions of random play: policy argmax agreement, |value difference|
  mean and max, and each model's policy-argmax mistake rate against the solver where labelled;
- self-play positions/s of an actor (`bench.selfplay`: the game's self-play search,
  [actor] concurrent_games, 1 thread as `cartridge run` gives an actor), fp32 and int8:
  what int8 buys per hour;
- strength per game: int8 against fp32 with the arena's search ([mcts] at [arena]
  num_simulations, no noise), every opening of the arena's set from both seats.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from bench import selfplay
from cartridge.arena.agents import search_player
from cartridge.arena.connect4_benchmark import load_labelled_positions
from cartridge.arena.match import play_match_games, summarise
from cartridge.arena.openings import select_openings
from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.inference.onnx import ModelMismatchError, OnnxEvaluator
from cartridge.integrity import random_games
from cartridge.mcts import SearchConfig
from cartridge.network import build_network, export_onnx
from cartridge.network.quantize import quantize_int8

log = logging.getLogger("bench.int8")
CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
BATCH = 128
MEASURE_S = 10.0
POSITIONS = 1000
CALIBRATION = 512
SELFPLAY_S = 30.0


def run(env_id: str = "connect4") -> dict:
    game = get_game(env_id)
    fp32, source = _model(game)
    calibration = _random_play(game, CALIBRATION, seed=1)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        int8 = quantize_int8(fp32, calibration)
        timings.append(time.perf_counter() - started)
    speed = {}
    for threads in (1, 2):
        for precision, data in (("fp32", fp32), ("int8", int8)):
            evaluator = OnnxEvaluator(data, game=game, model_version=1, provider="cpu",
                                      intra_op_threads=threads, spinning=True)
            speed[f"{precision}_{threads}_threads"] = round(_evals_per_s(evaluator, game), 1)
        speed[f"speedup_{threads}_threads"] = round(
            speed[f"int8_{threads}_threads"] / speed[f"fp32_{threads}_threads"], 2)
    result = {
        "game": game.id,
        "model": source,
        "fp32_bytes": len(fp32),
        "int8_bytes": len(int8),
        "quantize_s": round(min(timings), 3),
        "batch": BATCH,
        "evals_per_s": speed,
        "agreement": _agreement(game, fp32, int8),
        "selfplay_positions_per_s": {
            precision: selfplay.measure(game.id, measure_s=SELFPLAY_S, threads=1,
                                        onnx=data)["positions_per_s"]
            for precision, data in (("fp32", fp32), ("int8", int8))},
        "match_int8_vs_fp32": _match(game, fp32, int8),
    }
    log.info("%s", result)
    return result


def run_othello() -> dict:
    return run("othello")


def _model(game) -> tuple[bytes, str]:
    path = os.environ.get("CARTRIDGE_BENCH_MODEL")
    if path:
        data = Path(path).read_bytes()
        try:  # a model of another game fails here, not inside quantization
            OnnxEvaluator(data, game=game, model_version=1, provider="cpu")
        except ModelMismatchError as err:
            raise ModelMismatchError(f"CARTRIDGE_BENCH_MODEL={path}: {err}") from err
        return data, path
    network = load_settings(CONFIG, environ={}).network.for_game(game.id)
    return (export_onnx(build_network(game, network), game, network, step=0),
            f"default {network.kind} {network.blocks}x{network.channels}, random weights")


def _random_play(game, count: int, seed: int) -> np.ndarray:
    observations = [game.encode(state) for _, states in random_games(game, count, seed)
                    for state in states[:-1]]
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(observations), size=count, replace=False)
    return np.stack([observations[i] for i in picked]).astype(np.float32)


def _evals_per_s(evaluator: OnnxEvaluator, game) -> float:
    observations = _random_play(game, BATCH, seed=2)
    masks = np.ones((BATCH, game.num_actions), dtype=bool)
    evaluator.evaluate(observations, masks)  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < MEASURE_S:
        evaluator.evaluate(observations, masks)
        done += BATCH
    return done / (time.perf_counter() - started)


def _agreement(game, fp32: bytes, int8: bytes) -> dict:
    path = os.environ.get("CARTRIDGE_BENCH_POSITIONS")
    if path and game.id != "connect4":
        raise ValueError(f"CARTRIDGE_BENCH_POSITIONS={path}: labelled positions are "
                         f"Connect Four's; unset it for {game.id}")
    labelled = load_labelled_positions(Path(path))[:POSITIONS] if path else []
    if labelled:
        states = [game.apply_all(list(p.actions)) for p in labelled]
        observations = np.stack([game.encode(s) for s in states]).astype(np.float32)
        masks = np.stack([game.legal_mask(s) for s in states])
    else:
        observations = _random_play(game, POSITIONS, seed=3)
        masks = np.ones((POSITIONS, game.num_actions), dtype=bool)
    outputs = {}
    for precision, data in (("fp32", fp32), ("int8", int8)):
        evaluator = OnnxEvaluator(data, game=game, model_version=1, provider="cpu")
        outputs[precision] = evaluator.evaluate(observations, masks)
    (priors32, values32), (priors8, values8) = outputs["fp32"], outputs["int8"]
    moves32, moves8 = priors32.argmax(axis=1), priors8.argmax(axis=1)
    error = np.abs(values8 - values32)
    result = {
        "positions": f"{len(observations)} from {path}" if labelled else
                     f"{len(observations)} of random play",
        "policy_argmax_agreement": round(float((moves32 == moves8).mean()), 4),
        "value_abs_diff_mean": round(float(error.mean()), 4),
        "value_abs_diff_max": round(float(error.max()), 4),
    }
    if labelled:
        for precision, moves in (("fp32", moves32), ("int8", moves8)):
            mistakes = sum(p.is_mistake(int(m)) for p, m in zip(labelled, moves, strict=True))
            result[f"{precision}_policy_mistake_rate"] = round(mistakes / len(labelled), 4)
    return result


def _match(game, fp32: bytes, int8: bytes) -> dict:
    """int8 against fp32, the arena's way: evaluation-mode search at [arena]
    num_simulations, every opening of the arena's set with int8 in both seats."""
    settings = load_settings(CONFIG, environ={})
    search = SearchConfig.from_settings(settings.mcts)
    players = [search_player(game, OnnxEvaluator(data, game=game, model_version=1,
                                                 provider="cpu"),
                             search, settings.arena.num_simulations, np.random.default_rng(0))
               for data in (int8, fp32)]
    results = play_match_games(game, *players,
                               select_openings(game.id, settings.arena.openings))
    result = summarise(results)
    scores = np.array([r.score_a for r in results])
    half_width = 1.96 * scores.std(ddof=1) / np.sqrt(len(scores))
    return {"games": result.games, "wins": result.wins, "draws": result.draws,
            "losses": result.losses, "score": round(result.score, 3),
            "score_95": [round(max(0.0, result.score - half_width), 3),
                         round(min(1.0, result.score + half_width), 3)],
            "num_simulations": settings.arena.num_simulations,
            "algorithm": search.algorithm}
