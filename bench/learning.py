"""Sections `learning` (tic-tac-toe, routine) and `learning_connect4` (opt-in, 30 minutes).

Both run `cartridge run` with the config.toml defaults in a temporary data folder,
exactly as `make run` would, and judge the models it publishes:

- tictactoe: every CHECK_INTERVAL seconds the latest model with evaluation-mode
  MCTS ([mcts] settings, no noise, most visited move, fixed tie-break seed) plays
  against every reply of the opponent from both seats (`exhaustive_losses`);
  stops at the first model with 0 lost lines, or after TICTACTOE_LIMIT_S. For
  information each check also counts the network's own lost lines (policy argmax,
  no search): `policy_only_losses`.
  `seconds_to_perfect_play` counts from the start of `cartridge run` to the
  publication of that model.
- connect4: after CONNECT4_S (BENCH_CONNECT4_SECONDS overrides) the latest model,
  the same way, plays MATCH_GAMES games against a random player and against a
  one-ply lookahead player, half from each seat.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.inference import UniformEvaluator
from cartridge.inference.onnx import OnnxEvaluator
from cartridge.mcts import SearchConfig
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.players import (
    MctsPlayer,
    OnePlyPlayer,
    RandomPlayer,
    exhaustive_losses,
    play_match,
)

log = logging.getLogger("bench.learning")
REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config.toml"
CHECK_INTERVAL = 10.0
TICTACTOE_LIMIT_S = 600.0
CONNECT4_S = 1800.0
MATCH_GAMES = 100


def run() -> dict[str, Any]:
    return {"tictactoe": tictactoe()}


def run_connect4() -> dict[str, Any]:
    seconds = float(os.environ.get("BENCH_CONNECT4_SECONDS", CONNECT4_S))
    return {"connect4": connect4(seconds)}


def tictactoe(limit_s: float = TICTACTOE_LIMIT_S) -> dict[str, Any]:
    game = get_game("tictactoe")
    config = _search_config()
    checks: list[dict[str, Any]] = []
    result: dict[str, Any] = {"seconds_to_perfect_play": None}
    with _training_run(game.id) as (store, process, started):
        while time.time() - started < limit_s:
            time.sleep(CHECK_INTERVAL)
            _alive(process)
            info = store.latest()
            if info is None or (checks and checks[-1]["version"] == info.version):
                continue
            evaluator = _evaluator(store, info.version, game)
            player = MctsPlayer(game, evaluator, config, np.random.default_rng(0))
            as_x = exhaustive_losses(game, player, seats=(0,))
            as_o = exhaustive_losses(game, player, seats=(1,))
            # For information: the network alone (one simulation = its policy's argmax).
            raw = MctsPlayer(game, evaluator, SearchConfig(num_simulations=1),
                             np.random.default_rng(0))
            checks.append({"version": info.version, "step": info.step,
                           "published_s": round(info.created_at - started, 1),
                           "losses_as_x": as_x, "losses_as_o": as_o,
                           "policy_only_losses": exhaustive_losses(game, raw)})
            log.info("v%d (step %d): %d lost lines as X, %d as O (policy alone: %d)",
                     info.version, info.step, as_x, as_o, checks[-1]["policy_only_losses"])
            if as_x + as_o == 0:
                result["seconds_to_perfect_play"] = checks[-1]["published_s"]
                break
    # Baseline: the same search with the untrained (uniform) evaluator, so the figure
    # shows what training adds to search alone.
    uniform = MctsPlayer(game, UniformEvaluator(), config, np.random.default_rng(0))
    last = checks[-1] if checks else None
    result.update({
        "uniform_evaluator_losses": {"as_x": exhaustive_losses(game, uniform, seats=(0,)),
                                     "as_o": exhaustive_losses(game, uniform, seats=(1,))},
        "losses_at_end": None if last is None else last["losses_as_x"] + last["losses_as_o"],
        "version_at_end": None if last is None else last["version"],
        "step_at_end": None if last is None else last["step"],
        "limit_s": limit_s,
        "checks": checks,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    })
    return result


def connect4(seconds: float) -> dict[str, Any]:
    game = get_game("connect4")
    config = _search_config()
    with _training_run(game.id) as (store, process, started):
        while time.time() - started < seconds:
            time.sleep(5.0)
            _alive(process)
        _stop(process)  # the matches below get the machine to themselves
        info = store.latest()
        if info is None:
            return {"error": f"no model published in {seconds:.0f} s", "seconds": seconds}
        evaluator = _evaluator(store, info.version, game)
        rng = np.random.default_rng(0)
        agent = MctsPlayer(game, evaluator, config, rng)
        vs_random = play_match(game, agent, RandomPlayer(game, rng), MATCH_GAMES)
        vs_one_ply = play_match(game, agent, OnePlyPlayer(game, rng), MATCH_GAMES)
        # Baseline: the same search with the untrained (uniform) evaluator.
        uniform = MctsPlayer(game, UniformEvaluator(), config, rng)
        uniform_vs_one_ply = play_match(game, uniform, OnePlyPlayer(game, rng), MATCH_GAMES)
    return {
        "uniform_evaluator_vs_one_ply": str(uniform_vs_one_ply),
        "uniform_evaluator_win_rate_vs_one_ply": round(
            uniform_vs_one_ply.wins / uniform_vs_one_ply.games, 3),
        "seconds": seconds,
        "version": info.version,
        "step": info.step,
        "win_rate_vs_random": round(vs_random.wins / vs_random.games, 3),
        "vs_random": str(vs_random),
        "win_rate_vs_one_ply": round(vs_one_ply.wins / vs_one_ply.games, 3),
        "vs_one_ply": str(vs_one_ply),
        "games_per_match": MATCH_GAMES,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


def _search_config() -> SearchConfig:
    """[mcts] as the run sees it: config.toml alone (the run gets no CARTRIDGE_* variable)."""
    return SearchConfig.from_settings(load_settings(CONFIG, environ={}).mcts)


@contextlib.contextmanager
def _training_run(
    env_id: str, changes: dict[str, str] | None = None,
) -> Iterator[tuple[FilesystemModelStore, subprocess.Popen[bytes], float]]:
    """`cartridge run` in a temporary data folder: (its model store, process, start time);
    stopped with SIGINT on leaving. `changes`: CARTRIDGE_* variables on top of config.toml."""
    with tempfile.TemporaryDirectory(prefix="bench-learning-") as tmp:
        data = Path(tmp) / "data"
        started = time.time()
        process = _start_run(env_id, data, changes or {})
        try:
            yield FilesystemModelStore(data / "models", env_id), process, started
        finally:
            _stop(process)


def _start_run(env_id: str, data: Path, changes: dict[str, str]) -> subprocess.Popen[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIDGE_")}
    environ["CARTRIDGE_WEB_PORT"] = "0"  # any free port: never collides with a running page
    log.info("cartridge run --env %s (config.toml defaults%s), data in %s", env_id,
             "".join(f", {k}={v}" for k, v in changes.items()), data)
    return subprocess.Popen(
        [sys.executable, "-m", "cartridge.cli.main", "run", "--config", str(CONFIG),
         "--env", env_id, "--data-dir", str(data)],
        env={**environ, **changes}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _alive(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        raise RuntimeError(f"cartridge run exited early with code {process.returncode}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _evaluator(store: FilesystemModelStore, version: int, game) -> OnnxEvaluator:
    return OnnxEvaluator(store.load_onnx(version), game=game, model_version=version,
                         provider="cpu", intra_op_threads=1)
