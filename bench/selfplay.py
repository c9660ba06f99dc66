"""Section `selfplay`: self-play speed of one process against ONNX Runtime's ceiling.

For each game, the default network from config.toml (random weights: speed does
not depend on them) plays batched self-play with the game's self-play search
([selfplay.<game>] over [mcts], as actors play) and [actor] concurrent_games, in fp32
(`bench int8` measures int8 self-play, Connect Four actors' default). We
count every position the network evaluates, then time ONNX Runtime alone on batches
of the same (mean) size, same threads: ceiling_ratio = evals_per_s /
ceiling_evals_per_s is the share of time spent in inference, i.e. 1 - search overhead.

`connect4.threads`: the same for 1 and 2 ONNX Runtime threads, with spinning on and
off (the [inference] keys), so the thread and spinning choices rest on figures. With
one thread the pool is empty and spinning is moot; it is measured anyway as a control.

`connect4.playout_cap`: playout cap randomization over PUCT at [mcts]'s 200 simulations
(KataGo's 0.25 of moves in full, the rest a fast search of 50): recorded positions/s,
moves/s and finished games/s, against `connect4.puct` (the same search, every move full):
the trade measured before Gumbel 32 became the self-play default, kept as that record.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from cartridge.config import load_settings
from cartridge.config.settings import MctsSettings
from cartridge.games import get_game
from cartridge.inference.onnx import OnnxEvaluator, evaluator_from_settings
from cartridge.mcts import SearchConfig
from cartridge.network import build_network, export_onnx
from cartridge.selfplay import PlayoutCap, SelfPlay
from cartridge.threads import resolve_inference

log = logging.getLogger("bench.selfplay")
CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
MEASURE_S = 30.0
WARMUP_STEPS = 2
EVERY_MOVE_FULL = PlayoutCap()  # playout cap randomization off, the default


class CountingEvaluator:
    """Counts evaluated positions and the time spent inside the wrapped evaluator."""

    def __init__(self, inner: OnnxEvaluator) -> None:
        self.inner = inner
        self.model_version = inner.model_version
        self.positions = 0
        self.calls = 0
        self.seconds = 0.0

    def evaluate(self, observations, legal_masks):
        started = time.perf_counter()
        out = self.inner.evaluate(observations, legal_masks)
        self.seconds += time.perf_counter() - started
        self.positions += len(observations)
        self.calls += 1
        return out

    def reset(self) -> None:
        self.positions = self.calls = 0
        self.seconds = 0.0


def measure(env_id: str, measure_s: float = MEASURE_S, *, threads: int = 0,
            spinning: str = "auto", playout_cap: PlayoutCap = EVERY_MOVE_FULL,
            search: MctsSettings | None = None, onnx: bytes | None = None) -> dict:
    """`search`: instead of the game's self-play search; `onnx`: a model instead of the
    default network with random weights."""
    settings = load_settings(CONFIG, environ={})
    game = get_game(env_id)
    network = settings.network.for_game(env_id)
    if onnx is None:
        onnx = export_onnx(build_network(game, network), game, network, step=0)
    inference = resolve_inference(settings.inference.model_copy(
        update={"intra_op_threads": threads, "spinning": spinning}))
    inner = evaluator_from_settings(onnx, game=game, model_version=1,
                                    inference=inference.model_copy(update={"provider": "cpu"}))
    evaluator = CountingEvaluator(inner)
    if search is None:
        search = settings.selfplay.search(env_id, settings.mcts)
    config = SearchConfig.from_settings(search)
    selfplay = SelfPlay(game, evaluator, config, concurrent_games=settings.actor.concurrent_games,
                        actor_id="bench", rng=np.random.default_rng(0), playout_cap=playout_cap)
    for _ in range(WARMUP_STEPS):
        selfplay.step()
    evaluator.reset()
    positions_before, games_before = selfplay.positions_played, selfplay.games_finished
    fast_before = selfplay.fast_moves
    started = time.perf_counter()
    while time.perf_counter() - started < measure_s:
        selfplay.step()
    elapsed = time.perf_counter() - started
    positions = selfplay.positions_played - positions_before
    moves = positions + selfplay.fast_moves - fast_before
    games = selfplay.games_finished - games_before
    evals_per_s = evaluator.positions / elapsed
    mean_batch = evaluator.positions / max(evaluator.calls, 1)
    ceiling = _ceiling(inner, game, round(mean_batch), seconds=min(10.0, measure_s / 3))
    result = {
        "intra_op_threads": inference.intra_op_threads,
        "spinning": inference.spinning,
        "network": network.model_dump(),
        "algorithm": config.algorithm,
        "num_simulations": config.num_simulations,
        "concurrent_games": settings.actor.concurrent_games,
        "full_search_fraction": playout_cap.full_search_fraction,
        "fast_simulations": playout_cap.fast_simulations if playout_cap.on else None,
        "positions_per_s": round(positions / elapsed, 2),  # recorded positions
        "moves_per_s": round(moves / elapsed, 2),  # every move played, full or fast
        "games_finished": games,
        "games_per_s": round(games / elapsed, 3),
        "evals_per_s": round(evals_per_s, 1),
        "mean_batch": round(mean_batch, 1),
        "inference_share": round(evaluator.seconds / elapsed, 3),
        "ceiling_evals_per_s": round(ceiling, 1),
        "ceiling_ratio": round(evals_per_s / ceiling, 3),
    }
    log.info("%s: %s", env_id, result)
    return result


def _ceiling(evaluator: OnnxEvaluator, game, batch: int, seconds: float) -> float:
    """ONNX Runtime alone: evaluations per second at this batch size."""
    rng = np.random.default_rng(0)
    obs = (rng.random((batch, *game.observation_shape)) < 0.3).astype(np.float32)
    masks = np.ones((batch, game.num_actions), dtype=bool)
    evaluator.evaluate(obs, masks)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        evaluator.evaluate(obs, masks)
        done += batch
    return done / (time.perf_counter() - started)


def run() -> dict:
    connect4 = measure("connect4")
    variants = {f"{threads}_threads_spinning_{spinning}": measure(
                    "connect4", measure_s=20.0, threads=threads, spinning=spinning)
                for threads in (1, 2) for spinning in ("on", "off")}
    puct = load_settings(CONFIG, environ={}).mcts  # PUCT, 200 simulations
    puct_every_move = measure("connect4", measure_s=20.0, search=puct)
    playout_cap = measure("connect4", measure_s=20.0, search=puct,
                          playout_cap=PlayoutCap(full_search_fraction=0.25, fast_simulations=50))
    tictactoe = measure("tictactoe", measure_s=15.0)
    return {**connect4, "threads": variants, "puct": puct_every_move,
            "playout_cap": playout_cap, "tictactoe": tictactoe}
