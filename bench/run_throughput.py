"""Section `run_throughput`: how `cartridge run` uses the machine, for Connect Four with the
config.toml defaults (the arena and the web service included, as `make run` starts them).

Three runs, each measured for MEASURE_S seconds (CARTRIDGE_BENCH_RUN_SECONDS overrides)
from the first published model on:
- `solo`: the trainer's own speed on this machine, alone (bench.trainer's fed figure,
  measured in this run, with every CPU);
- `defaults`: `cartridge run` as `make run ENV=connect4` starts it;
- `ratio_lifted`: the same with the train/data ratio limit lifted, so the trainer's own
  speed inside the run shows; `fraction_of_solo` is its samples/s over the solo figure;
- `old_split_ratio_lifted`: the same, with the machine divided as before thread budgets
  (the trainer's PyTorch pool on every CPU, one actor with one ONNX Runtime thread,
  spinning on, no backfill actor): the before of the thread-budget change;
- the split's alternatives under the default ratio, for self-play per hour (what bounds
  strength here): `two_actors` (`[run] actors = 2`: no backfill, both actors at normal
  priority beside the trainer) and `arena_off` (the defaults without the arena, to show
  its share).

Each run reports trainer samples/s (from stats.json steps), self-play positions/s (the
replay buffer's monotonic position count), the share of time the trainer waited at
the ratio gate, and the CPU each child used (from /proc), so idle cores show.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from bench import trainer as trainer_bench
from bench.learning import CONFIG, _alive, _training_run
from cartridge.config import load_settings
from cartridge.replay.sqlite import SqliteReplayStore

log = logging.getLogger("bench.run_throughput")
ENV = "connect4"
MEASURE_S = 180.0
FIRST_MODEL_LIMIT_S = 600.0
LIFTED = "1000000000"  # samples per position: never reached


def run() -> dict[str, Any]:
    seconds = float(os.environ.get("CARTRIDGE_BENCH_RUN_SECONDS", MEASURE_S))
    solo = trainer_bench.run()["samples_per_s"]
    log.info("solo trainer: %.1f samples/s", solo)
    defaults = measure_run({}, seconds)
    lifted = measure_run({"CARTRIDGE_TRAINING_MAX_SAMPLES_PER_POSITION": LIFTED}, seconds)
    cpus = str(len(os.sched_getaffinity(0)))
    old = measure_run({"CARTRIDGE_TRAINING_MAX_SAMPLES_PER_POSITION": LIFTED,
                       "CARTRIDGE_TRAINING_THREADS": cpus, "CARTRIDGE_RUN_ACTORS": "1",
                       "CARTRIDGE_INFERENCE_INTRA_OP_THREADS": "1",
                       "CARTRIDGE_INFERENCE_SPINNING": "on"}, seconds)
    two_actors = measure_run({"CARTRIDGE_RUN_ACTORS": "2"}, seconds)
    arena_off = measure_run({"CARTRIDGE_RUN_ARENA": "false"}, seconds)
    for result in (defaults, lifted, old, two_actors, arena_off):
        result["fraction_of_solo"] = round(result["trainer_samples_per_s"] / solo, 3)
    return {"env_id": ENV, "measure_s": seconds, "solo_trainer_samples_per_s": solo,
            "defaults": defaults, "ratio_lifted": lifted, "old_split_ratio_lifted": old,
            "two_actors": two_actors, "arena_off": arena_off}


def measure_run(changes: dict[str, str], seconds: float) -> dict[str, Any]:
    with _training_run(ENV, changes) as (store, process, started):
        data = store.root.parent
        while store.latest() is None:
            _alive(process)
            if time.time() - started > FIRST_MODEL_LIMIT_S:
                raise RuntimeError(f"no model within {FIRST_MODEL_LIMIT_S:.0f} s")
            time.sleep(1.0)
        first_model_s = time.time() - started
        children = _children(data)
        before = _snapshot(data, children)
        time.sleep(seconds)
        _alive(process)
        after = _snapshot(data, children)
    elapsed = after["time"] - before["time"]
    trained_s = max(after["stats_time"] - before["stats_time"], 1e-9)
    batch = load_settings(CONFIG, environ={}).training.batch_size
    cpu = {name: round((after["cpu"][name] - before["cpu"][name]) / elapsed, 2)
           for name in children}
    result = {
        "changes": changes,
        "first_model_s": round(first_model_s, 1),
        "trainer_samples_per_s": round((after["step"] - before["step"]) * batch / trained_s, 1),
        "trainer_steps": after["step"] - before["step"],
        "selfplay_positions_per_s": round(
            (after["positions"] - before["positions"]) / elapsed, 1),
        "ratio_wait_share": round((after["ratio_wait_s"] - before["ratio_wait_s"]) / trained_s,
                                  3),
        "cpu_used": cpu,  # CPUs each child used on average (1.0 = one core busy)
        "cpu_used_total": round(sum(cpu.values()), 2),
        "cpus": len(os.sched_getaffinity(0)),
    }
    log.info("%s: %s", changes, result)
    return result


def _children(data: Path) -> dict[str, int]:
    run = json.loads((data / "run.json").read_text())
    children = {"trainer": run["trainer_pid"]}
    for i, actor in enumerate(run["actors"]):
        children[f"actor-{i}"] = actor["pid"]
    children.update(run.get("services", {}))  # the arena and the web service
    return children


def _snapshot(data: Path, children: dict[str, int]) -> dict[str, Any]:
    stats = json.loads((data / "stats.json").read_text())
    with SqliteReplayStore(data / "replay.db") as replay:
        positions = replay.stats(ENV).total_positions
    return {
        "time": time.time(),
        "stats_time": stats["timestamp"],
        "step": stats["step"],
        "ratio_wait_s": stats["ratio_wait_s"],
        "positions": positions,
        "cpu": {name: _cpu_seconds(pid) for name, pid in children.items()},
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
