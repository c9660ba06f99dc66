"""Sections `learning` (tic-tac-toe, routine) and `learning_connect4` (opt-in, 30 minutes).

Both run `cartridge run` in a temporary data folder, exactly as `make run` would,
once per configuration of CONFIGS (BENCH_LEARNING_CONFIGS picks them, comma-separated;
"defaults" = config.toml as it is), and judge the models it publishes. Models are
always judged with the same search (config.toml's [mcts], or [arena] num_simulations
for Connect Four), whatever search the configuration trains with.

- tictactoe: every CHECK_INTERVAL seconds the latest model with evaluation-mode
  MCTS (no noise, most visited move, fixed tie-break seed) plays against every
  reply of the opponent from both seats (`exhaustive_losses`), and so does the
  network alone (policy argmax, `policy_only_losses`). `seconds_to_perfect_play`
  (with search) and `seconds_to_perfect_network` (alone) count from the start of
  `cartridge run` to the publication of the first model with 0 lost lines; it
  stops at the perfect network, or after TICTACTOE_LIMIT_S.
- connect4: at 10, 20 and 30 minutes (BENCH_CONNECT4_MINUTES) the newest model is
  copied to build/bench-learning-connect4/<config>/, with every process's CPU seconds
  by role and the trainer's share of time at the ratio gate so far (curve.json, saved at
  each snapshot; a run whose trainer reaches [training] steps first ends its curve with
  the last model, `trainer_finished`); after the run each copy is judged with the
  machine to itself: wrong-outcome rates on Pons' sets (../shared/connect4/moves.jsonl)
  and on the project's own labelled set (build/connect4_positions.jsonl, when made by
  scripts/connect4_positions.py), for the network alone and with search. Then every
  snapshot of every curve kept in results.json is rated in one pool with the anchors
  (`rate_pool`), so the curves share one Elo scale.
- othello (`learning_othello`): the same curves at BENCH_OTHELLO_MINUTES; no labelled
  positions exist for Othello, so the rating pool (anchors, predecessors and the other
  curves' snapshots of the same minute) is the whole judgement.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench import machine
from bench.cpu_shares import cpu_seconds_by_role
from cartridge.arena.agents import PolicyPlayer, search_player
from cartridge.arena.anchors import anchor_names, make_anchor
from cartridge.arena.connect4_benchmark import connect4_benchmark, load_labelled_positions
from cartridge.arena.connect4_solver import solver_installed
from cartridge.arena.match import play_match_games, summarise
from cartridge.arena.openings import select_openings
from cartridge.arena.ratings import PairRecord, fit_ratings
from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.inference import UniformEvaluator
from cartridge.inference.onnx import OnnxEvaluator
from cartridge.mcts import SearchConfig
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.players import (
    MctsPlayer,
    exhaustive_losses,
)
from cartridge.threads import cpu_budget

log = logging.getLogger("bench.learning")
REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config.toml"
CHECK_INTERVAL = 10.0
TICTACTOE_LIMIT_S = 600.0
# Minutes of `cartridge run` at which the newest model is kept and judged, by game
# (BENCH_CONNECT4_MINUTES, BENCH_OTHELLO_MINUTES).
CURVE_MINUTES = {"connect4": "10,20,30", "othello": "10,20,30"}
# Games whose [selfplay.<game>] tables the search configurations below set.
SEARCH_GAMES = ("TICTACTOE", "CONNECT4", "OTHELLO")
# Configurations the learning sections compare (BENCH_LEARNING_CONFIGS picks them,
# comma-separated; default "defaults"): CARTRIDGE_* changes to config.toml. The README's
# puct200, gumbel32, pcr and fp32 curves ran before Connect Four's actors played int8,
# and every Connect Four curve before 2026-12-07 with the 5x64 network (net5x64's).
CONFIGS: dict[str, dict[str, str]] = {
    "defaults": {},
    # Connect Four's network at 5 blocks of 64 channels, its default before 3x48 and
    # still the GPU switches' (config.toml).
    "net5x64": {"CARTRIDGE_NETWORK_CONNECT4_BLOCKS": "5",
                "CARTRIDGE_NETWORK_CONNECT4_CHANNELS": "64"},
    # AlphaZero's search as every game trained before its [selfplay.<game>] table chose
    # Gumbel: PUCT at 200 simulations ([mcts]'s).
    "puct200": {f"CARTRIDGE_SELFPLAY_{game}_{key}": value
                for game in SEARCH_GAMES
                for key, value in (("ALGORITHM", "puct"), ("NUM_SIMULATIONS", "200"))},
    # Gumbel search at a sixth of the simulations (tic-tac-toe's and Othello's default;
    # Connect Four's until gumbel16's two pairs):
    # more games per CPU-second, and an improved-policy target; m = 4 considered moves
    # matched PUCT best at 8-16 simulations in evaluation matches (scripts/gumbel_vs_puct.py).
    "gumbel32": {f"CARTRIDGE_SELFPLAY_{game}_{key}": value
                 for game in SEARCH_GAMES
                 for key, value in (("ALGORITHM", "gumbel"), ("NUM_SIMULATIONS", "32"),
                                    ("GUMBEL_CONSIDERED", "4"))},
    # Gumbel at twice the simulations (64, m = 4 as the defaults'): the bf16 trainer, not
    # the games, bounds Connect Four on 2 cores (about 4 samples per position under the
    # ratio gate's 8), so the actors' time may buy better targets instead of more games.
    # Half the games, and worse at every minute of a 45-minute pair (README): not adopted.
    "gumbel64": {f"CARTRIDGE_SELFPLAY_{game}_NUM_SIMULATIONS": "64" for game in SEARCH_GAMES},
    # Gumbel at half the simulations (16, m = 4: two rounds of sequential halving, 2 then
    # 4 visits per considered move): where fresh positions beat search quality per
    # position (gumbel64's pair), about twice the games again at about 2 samples each.
    # Connect Four's default since two 45-minute pairs (README): there it equals defaults.
    "gumbel16": {f"CARTRIDGE_SELFPLAY_{game}_NUM_SIMULATIONS": "16" for game in SEARCH_GAMES},
    # Playout cap randomization (KataGo's fractions) over PUCT 200: a quarter of the moves
    # get the full search and become policy targets, the rest 50 simulations.
    "pcr": {f"CARTRIDGE_SELFPLAY_{game}_{key}": value
            for game in SEARCH_GAMES
            for key, value in (("ALGORITHM", "puct"), ("NUM_SIMULATIONS", "200"))}
    | {"CARTRIDGE_SELFPLAY_FULL_SEARCH_FRACTION": "0.25",
       "CARTRIDGE_SELFPLAY_FAST_SIMULATIONS": "50"},
    # The trainer in float32 (channels-last), as on a CPU without native bf16; before
    # bf16 on the CPU, curves trained so (in the default layout). The search as configured.
    "fp32": {"CARTRIDGE_TRAINING_AMP": "false"},
    # Every game's actors play the int8 model of each version (its trainer publishes both):
    # about twice the self-play positions/s (bench int8); judged, like every curve, in
    # float32. Connect Four's default; for tic-tac-toe, a change.
    "int8": {"CARTRIDGE_INFERENCE_PRECISION": "int8"},
    # Connect Four's actors play the float32 model, its default before int8.
    "fp32actors": {"CARTRIDGE_SELFPLAY_CONNECT4_PRECISION": "fp32"},
    # The learning rate's cosine decay ends at step 17,000 (the defaults' step at 30
    # minutes here) instead of 100,000: a model annealed within the time it is judged at.
    # The trainer idles there, so the run goes on to its last checkpoint.
    "anneal30": {"CARTRIDGE_TRAINING_STEPS": "17000", "CARTRIDGE_TRAINING_WHEN_DONE": "idle"},
    # Connect Four's network at 3 blocks of 48 channels instead of 5 of 64: about a third
    # of the multiply-adds per position, for a trainer that bounds the run (on a CPU
    # without bf16 it trains a sixth of the steps it does with AMX). Won 45-minute pairs
    # against 5x64 on a float32 and on a bf16 trainer (README): the default since, so now
    # the same run as "defaults", kept under the name the README's curves give it.
    "small": {"CARTRIDGE_NETWORK_CONNECT4_BLOCKS": "3",
              "CARTRIDGE_NETWORK_CONNECT4_CHANNELS": "48"},
    # 3x48 (small's) with self-play at 8 simulations (m = 4: 1 then 2 visits per considered
    # move): on a CPU without bf16, where 3x48 still drew about 5 samples per position at
    # 45 minutes, the halving that paid for 5x64 from 32 to 16 (gumbel16) tried once more.
    # 1.9x the games, level with small over a 45-minute pair (52-44, README): not adopted.
    "smallgumbel8": {"CARTRIDGE_NETWORK_CONNECT4_BLOCKS": "3",
                     "CARTRIDGE_NETWORK_CONNECT4_CHANNELS": "48",
                     "CARTRIDGE_SELFPLAY_CONNECT4_NUM_SIMULATIONS": "8"},
    # 3x48 (small's) publishing an exponential moving average of the trainer's weights
    # (decay 0.999 per step: about the last 1,000 steps) instead of the weights of the
    # step: the averaging a learning rate annealed to its end buys, without knowing when
    # the run will be judged (anneal30 had to). The network alone better at 45 minutes,
    # level with search and head to head over a pair (47.5-48.5, README): not adopted.
    "smallema": {"CARTRIDGE_NETWORK_CONNECT4_BLOCKS": "3",
                 "CARTRIDGE_NETWORK_CONNECT4_CHANNELS": "48",
                 "CARTRIDGE_TRAINING_EMA_DECAY": "0.999"},
    # Connect Four's network at 5 blocks of 96 channels instead of 64: about 2.25x the
    # multiply-adds per position, for the Middle-Medium rate the network alone stopped
    # lowering from 60 minutes of the Gumbel 16 defaults' 2-hour curve. Half the steps on
    # a 2-core bf16 CPU, and lost head to head at every minute of a 45-minute pair
    # (21-75, README): not adopted.
    "wide": {"CARTRIDGE_NETWORK_CONNECT4_BLOCKS": "5", "CARTRIDGE_NETWORK_CONNECT4_CHANNELS": "96"},
    # The replay window at 100,000 positions, its default before 500,000: with int8 Gumbel
    # self-play on 2 cores about the last 3 minutes of games. (The 500,000 curve ran as
    # "window500k" before it became the default.)
    "window100k": {"CARTRIDGE_REPLAY_WINDOW": "100000"},
    # Value targets the mean of the game's result and the search's root value
    # (search_value_weight = 0.5) instead of the result alone. Behind head to head over
    # 45-minute pairs with 5x64 (45.5-50.5) and 3x48 (26.5-69.5, README) while Gumbel's
    # root value was the mean over the halving's visits; with the improved policy's value
    # fewer wrong-outcome moves on Pons' positions and level head to head (README):
    # Connect Four's default since, so for it this is "defaults" again.
    "valuemix": {f"CARTRIDGE_SELFPLAY_{game}_SEARCH_VALUE_WEIGHT": "0.5"
                 for game in SEARCH_GAMES},
    # Value targets the game's result alone (AlphaZero's; Connect Four's default before
    # valuemix's third pair).
    "resultvalue": {f"CARTRIDGE_SELFPLAY_{game}_SEARCH_VALUE_WEIGHT": "0"
                    for game in SEARCH_GAMES},
    # A win/draw/loss value head ([network.connect4] value_head = "wdl") instead of the
    # tanh one: the 45-minute 3x48 model's wrong moves were mostly in drawn positions,
    # whose value its scalar head got wrong most often (README). It read them better, but
    # came out level head to head over a 45-minute pair (47-49) and behind with search on
    # Pons' positions (3.1% against 2.5%): not adopted.
    "wdl": {"CARTRIDGE_NETWORK_CONNECT4_VALUE_HEAD": "wdl"},
    # Root noise on each self-play game's first 15 plies only ([selfplay]
    # root_noise_plies; PUCT's temp_threshold), the search's own best move after: Gumbel
    # noise on every move makes late mistakes that decide results, the value targets,
    # and the 45-minute model's wrong moves were mostly in drawn positions. Level over a
    # 45-minute pair (50.5-45.5; README "Root noise on the first plies only"): not adopted.
    "noise15": {"CARTRIDGE_SELFPLAY_ROOT_NOISE_PLIES": "15"},
    # Gumbel's sigma(q) at half the scale in self-play: with 16 simulations a considered
    # move's Q comes from 2-6 visits, and at gumbel_c_scale 1 a Q difference of 0.1 moves
    # the improved-policy target by 2.8 logits; half trusts the prior more against noisy
    # Q. (Evaluation keeps config.toml's scale: the judge reads config.toml alone.)
    # Level over a 30-minute pair (39-33 head to head; README "Gumbel as the evaluation
    # search"): not adopted.
    "cscale05": {"CARTRIDGE_MCTS_GUMBEL_C_SCALE": "0.5"},
    # The train/data ratio at 2 samples per position instead of 8: the bf16 trainer
    # (about 4 per position at 45 minutes here, never waiting at 8) waits for self-play,
    # and the actors get its CPU time.
    "ratio2": {"CARTRIDGE_TRAINING_MAX_SAMPLES_PER_POSITION": "2"},
    # The two above with no arena beside the run ([run] arena = false): the CPU the
    # arena took (9% of a core with the defaults, 40% while ratio2's trainer waited)
    # goes to the backfill actor, so self-play gets the waiting trainer's core.
    "noarena": {"CARTRIDGE_RUN_ARENA": "false"},
    "ratio2noarena": {"CARTRIDGE_TRAINING_MAX_SAMPLES_PER_POSITION": "2",
                      "CARTRIDGE_RUN_ARENA": "false"},
    # Half the batch: on one thread about the same samples/s (Zen 4, bf16: 1,655 against
    # 1,751) in twice the optimiser steps, so a pair with `defaults` tells whether the
    # updates or the samples bound strength.
    "batch128": {"CARTRIDGE_TRAINING_BATCH_SIZE": "128"},
    # batch128 with the cosine schedule twice as long in steps, so the learning rate
    # falls with wall time as the defaults' does: separates the batch from the schedule.
    "batch128long": {"CARTRIDGE_TRAINING_BATCH_SIZE": "128", "CARTRIDGE_TRAINING_STEPS": "200000"},
    # Each self-play game opens with 0-10 uniformly random moves (not recorded): the
    # positions of random games, as Pons' sets hold, which a few repeated openings miss.
    # Connect Four's default since ([selfplay.connect4]); set per game, over its table.
    "randomopen": {f"CARTRIDGE_SELFPLAY_{game}_RANDOM_OPENING_PLIES": "10"
                   for game in SEARCH_GAMES},
    # 0-4 random moves: for tic-tac-toe, whose games last 9 moves at most, 0-10 leaves
    # little of many games to the network.
    "randomopen4": {f"CARTRIDGE_SELFPLAY_{game}_RANDOM_OPENING_PLIES": "4"
                    for game in SEARCH_GAMES},
    # 0-20 random moves: Pons' Middle sets hold positions 15-28 moves into random games,
    # which 0-10 random moves reach only through self-play's own continuations.
    "randomopen20": {f"CARTRIDGE_SELFPLAY_{game}_RANDOM_OPENING_PLIES": "20"
                     for game in SEARCH_GAMES},
    # Every game from its start position: Connect Four's default before random openings.
    "noopenings": {f"CARTRIDGE_SELFPLAY_{game}_RANDOM_OPENING_PLIES": "0"
                   for game in SEARCH_GAMES},
}
POOL_OPENINGS = 12  # per rating-pool match, from both seats (24 games)
PONS = REPO.parent / "shared" / "connect4" / "moves.jsonl"
# The project's own labelled set (scripts/connect4_positions.py; not committed: BitBully).
OWN_POSITIONS = REPO / "build" / "connect4_positions.jsonl"
PONS_SETS = {"L3_R1": "End-Easy", "L2_R1": "Middle-Easy", "L2_R2": "Middle-Medium",
             "L1_R1": "Begin-Easy", "L1_R2": "Begin-Medium", "L1_R3": "Begin-Hard"}


def run() -> dict[str, Any]:
    return {"tictactoe": {name: tictactoe(CONFIGS[name]) for name in _config_names()}}


def run_connect4() -> dict[str, Any]:
    """Connect Four's curves, each snapshot judged on labelled positions."""
    return _learning_curves("connect4", judge=_judge)


def run_othello() -> dict[str, Any]:
    """Othello's curves: the rating pool is their only judge."""
    return _learning_curves("othello", judge=None)


def _learning_curves(env_id: str, judge: Callable[[Path], dict[str, Any]] | None,
                     ) -> dict[str, Any]:
    """Curves of the configurations named, then one rating pool over every curve of the
    game kept (this invocation's and earlier ones'). BENCH_<GAME>_JUDGE_ONLY=1 judges the
    snapshots an earlier run left in build/ again, without training."""
    prefix = f"BENCH_{env_id.upper()}"
    minutes = os.environ.get(f"{prefix}_MINUTES", CURVE_MINUTES[env_id])
    try:
        checkpoints = tuple(60 * float(m) for m in minutes.split(","))
    except ValueError:
        raise ValueError(f"{prefix}_MINUTES={minutes!r}: expected minutes separated by "
                         "commas, e.g. 10,20,30") from None
    _search_config()
    earlier = _read_json(REPO / "bench" / "results.json").get(f"learning_{env_id}", {})
    curves = {}
    for name, curve in earlier.get(env_id, {}).items():
        if not (isinstance(curve, dict) and "snapshots" in curve):
            continue
        # Curves from before actor_precision was recorded played [inference] precision.
        played = curve.get("changes", {}).get("CARTRIDGE_INFERENCE_PRECISION", "fp32")
        trained = (curve.get("search"), curve.get("actor_precision", played))
        now = (_trained_search(CONFIGS[name], env_id),
               _actor_precision(CONFIGS[name], env_id)) if name in CONFIGS else trained
        if trained != now:
            # "defaults" trained PUCT 200 before [selfplay.connect4], with fp32 actors
            # before int8: not today's defaults. (The trainer's precision is the machine's
            # measurement, recorded in training_autocast, not the configuration's.)
            log.info("earlier curve %s left out of the pool: it trained with %s, %s now "
                     "trains with %s", name, trained, name, now)
            continue
        curves[name] = curve
    for name in _config_names():
        if os.environ.get(f"{prefix}_JUDGE_ONLY"):
            saved = _snapshots(env_id) / name / "curve.json"
            curve = _read_json(saved)
            if not curve:
                raise ValueError(f"{saved}: no saved curve to judge")
        else:
            curve = learning_curve(env_id, name, CONFIGS[name], checkpoints)
        for snapshot in curve["snapshots"]:
            if judge is not None and snapshot.get("model"):
                snapshot.update(judge(REPO / snapshot["model"]))
        curves[name] = curve
    return {env_id: curves, "rating_pool": rate_pool(curves, env_id)}


def _config_names() -> list[str]:
    names = os.environ.get("BENCH_LEARNING_CONFIGS", "defaults").split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise ValueError(f"BENCH_LEARNING_CONFIGS: unknown {', '.join(unknown)}; "
                         f"known: {', '.join(CONFIGS)}")
    return names


def tictactoe(changes: dict[str, str], limit_s: float = TICTACTOE_LIMIT_S) -> dict[str, Any]:
    game = get_game("tictactoe")
    config = _search_config()
    checks: list[dict[str, Any]] = []
    result: dict[str, Any] = {"changes": changes, "search": _trained_search(changes, game.id),
                              "actor_precision": _actor_precision(changes, game.id),
                              "seconds_to_perfect_play": None,
                              "seconds_to_perfect_network": None}
    with _training_run(game.id, changes) as (store, process, started):
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
            if as_x + as_o == 0 and result["seconds_to_perfect_play"] is None:
                result["seconds_to_perfect_play"] = checks[-1]["published_s"]
            if checks[-1]["policy_only_losses"] == 0:
                result["seconds_to_perfect_network"] = checks[-1]["published_s"]
                break
        result["training_autocast"] = _trained_autocast(store)
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


def learning_curve(env_id: str, name: str, changes: dict[str, str],
                   checkpoints_s: tuple[float, ...]) -> dict[str, Any]:
    """`cartridge run` of one game with one configuration, keeping the newest model at
    each checkpoint; the curve is saved (curve.json beside the models) at each snapshot.
    A run whose trainer reaches `[training] steps` first ends the curve there."""
    out = _snapshots(env_id) / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    # What the run trains with, read now: config.toml may change during a 2-hour run, and
    # this process's settings classes would not know a key added meanwhile.
    curve: dict[str, Any] = {
        "changes": changes, "search": _trained_search(changes, env_id),
        "actor_precision": _actor_precision(changes, env_id), "machine": machine.describe()}
    snapshots: list[dict[str, Any]] = []
    curve["snapshots"] = snapshots
    with _training_run(env_id, changes) as (store, process, started):
        for checkpoint in checkpoints_s:
            finished = _run_until(started + checkpoint, process)
            info = store.latest()
            progress = _read_json(store.root.parent / "status.json")
            trainer_stats = _read_json(store.root.parent / "stats.json")
            curve["training_autocast"] = trainer_stats.get("autocast")
            # A finished run's processes are gone, and their CPU seconds with them.
            cpu_s = None if finished else cpu_seconds_by_role(process.pid)
            if info is None:
                snapshots.append({"minutes": checkpoint / 60, "version": None})
                continue
            path = out / f"{checkpoint / 60:g}min-v{info.version}.onnx"
            path.write_bytes(store.load_onnx(info.version))
            snapshots.append({
                "minutes": round(checkpoint / 60, 2), "version": info.version,
                "step": info.step, "published_s": round(info.created_at - started, 1),
                "games": progress.get("games"), "positions": progress.get("positions"),
                # Where the CPU went: the trainer's share of wall time at the ratio
                # gate, and each process's CPU seconds so far.
                "ratio_wait_share": trainer_stats.get("ratio_wait_share"), "cpu_s": cpu_s,
                "trainer_finished": finished, "model": str(path.relative_to(REPO))})
            log.info("%s: %g min: v%d (step %d), %s games, CPU seconds %s", name,
                     checkpoint / 60, info.version, info.step, progress.get("games"), cpu_s)
            # Saved at every snapshot: a run that fails later keeps what it measured
            # for BENCH_<GAME>_JUDGE_ONLY.
            (out / "curve.json").write_text(json.dumps(curve, indent=2) + "\n")
            if finished:  # the model no longer changes: later snapshots would repeat it
                log.warning("%s: the trainer finished [training] steps (step %d) before "
                            "%g minutes: this is the curve's last snapshot", name,
                            info.step, checkpoint / 60)
                break
    return curve


def _snapshots(env_id: str) -> Path:
    return REPO / "build" / f"bench-learning-{env_id}"


def rate_pool(curves: dict[str, dict[str, Any]], env_id: str) -> dict[str, Any]:
    """One Elo scale for every snapshot of every curve and the anchors (random = 0):
    each snapshot plays every anchor, its predecessor in its curve and the snapshot at
    the same minute of the other curves; POOL_OPENINGS openings from both seats, the
    arena's search. Ratings fitted by Bradley-Terry over all games (arena/ratings.py)."""
    game = get_game(env_id)
    rng = np.random.default_rng(0)
    settings = load_settings(CONFIG, environ={})
    anchors = anchor_names(game.id, connect4_solver=solver_installed())
    players: dict[str, Any] = {name: make_anchor(name, game, rng) for name in anchors}
    by_minute: dict[float, list[str]] = {}
    pairs = list(itertools.pairwise(anchors))
    for config, curve in curves.items():
        previous = None
        for snapshot in curve["snapshots"]:
            if not snapshot.get("model"):
                continue
            name = f"{config}@{snapshot['minutes']:g}min"
            evaluator = OnnxEvaluator((REPO / snapshot["model"]).read_bytes(), game=game,
                                      model_version=0, provider="cpu",
                                      intra_op_threads=cpu_budget().cpus)
            players[name] = search_player(game, evaluator, _search_config(),
                                          settings.arena.num_simulations, rng)
            pairs += [(name, anchor) for anchor in anchors]
            pairs += [(name, other) for other in by_minute.get(snapshot["minutes"], [])]
            if previous:
                pairs.append((name, previous))
            by_minute.setdefault(snapshot["minutes"], []).append(name)
            previous = name
    openings = select_openings(game.id, POOL_OPENINGS)
    records = []
    for a, b in pairs:
        result = summarise(play_match_games(game, players[a], players[b], openings))
        records.append(PairRecord(a, b, result.games, result.wins + result.draws / 2))
        log.info("pool: %s vs %s: %s", a, b, result)
    fit = fit_ratings(records)
    return {"openings": len(openings), "games_per_match": 2 * len(openings),
            "ratings": {name: {"elo": round(r.elo), "interval": round(r.interval),
                               "games": r.games} for name, r in fit.ratings.items()},
            "matches": [{"a": r.player_a, "b": r.player_b, "games": r.games,
                         "score_a": r.score_a} for r in records]}


def _judge(model: Path) -> dict[str, Any]:
    """Wrong-outcome rates of one model, network alone and with the arena's search:
    by Pons set (`../shared/connect4`) and, when present, on the project's own set."""
    game = get_game("connect4")
    settings = load_settings(CONFIG, environ={})
    evaluator = OnnxEvaluator(model.read_bytes(), game=game, model_version=0,
                              provider="cpu", intra_op_threads=cpu_budget().cpus)
    search = _search_config()
    agents = {"network": PolicyPlayer(game, evaluator),
              "search": search_player(game, evaluator, search,
                                      settings.arena.num_simulations,
                                      np.random.default_rng(0))}
    # Curves judged before Gumbel became [mcts]'s search have no search_algorithm: PUCT.
    judged: dict[str, Any] = {"search_simulations": settings.arena.num_simulations,
                              "search_algorithm": search.algorithm}
    sets = {"pons": PONS, "own": OWN_POSITIONS}
    for set_name, path in sets.items():
        if not path.exists():
            judged[set_name] = f"{path} not found"
            continue
        positions, groups = _labelled(path, set_name)
        for agent_name, agent in agents.items():
            rates = connect4_benchmark(agent, positions, groups=groups)
            judged[f"{set_name}_{agent_name}"] = {
                group: round(100 * result.mistake_rate, 1) for group, result in rates.items()}
    return judged


def _labelled(path: Path, set_name: str) -> tuple[list[Any], list[str] | None]:
    """Positions and their groups: Pons' set names (End-Easy...) or None (by stage)."""
    positions = load_labelled_positions(path)
    if set_name != "pons":
        return positions, None
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return positions, [PONS_SETS.get(line["set"], line["set"]) for line in lines]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _trained_search(changes: dict[str, str], env_id: str = "connect4") -> dict[str, Any]:
    """A game's self-play search under config.toml with these changes."""
    settings = load_settings(CONFIG, {"common": {"env_id": env_id}}, environ=changes)
    search = settings.selfplay.search(env_id, settings.mcts)
    trained = {"algorithm": search.algorithm, "num_simulations": search.num_simulations,
               "gumbel_considered": search.gumbel_considered,
               "full_search_fraction": settings.selfplay.full_search_fraction}
    if settings.selfplay.full_search_fraction < 1:
        trained["fast_simulations"] = settings.selfplay.fast_simulations
    # Recorded when on only, so curves from before the key compare equal to 0.
    if openings := settings.selfplay.opening_plies(env_id):
        trained["random_opening_plies"] = openings
    if settings.selfplay.root_noise_plies >= 0:
        trained["root_noise_plies"] = settings.selfplay.root_noise_plies
    if weight := settings.selfplay.value_weight(env_id):
        trained["search_value_weight"] = weight
    return trained


def _trained_autocast(store: FilesystemModelStore) -> str | None:
    """The precision the run's trainer measured faster and steps in (its stats.json)."""
    return _read_json(store.root.parent / "stats.json").get("autocast")


def _actor_precision(changes: dict[str, str], env_id: str = "connect4") -> str:
    """The model precision a game's actors play under these changes."""
    settings = load_settings(CONFIG, {"common": {"env_id": env_id}}, environ=changes)
    return settings.actor_precision(env_id)


@functools.cache
def _search_config() -> SearchConfig:
    """[mcts] as the run sees it: config.toml alone (the run gets no CARTRIDGE_* variable).
    Read once (run_connect4 reads it before training), so judging uses the search of the
    config.toml the run started with, whatever changes in it meanwhile."""
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


def _run_until(deadline: float, process: subprocess.Popen[bytes],
               poll_s: float = 2.0) -> bool:
    """Wait for `deadline` (time.time()) while the run trains. True when it ended
    before, as `cartridge run` does once the trainer reaches `[training] steps` (a
    2-hour curve of a small network on a fast CPU can); an error on any other exit."""
    while time.time() < deadline:
        time.sleep(poll_s)
        if process.poll() == 0:
            return True
        _alive(process)
    return False


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
