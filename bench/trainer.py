"""Section `trainer`: training throughput fed from the SQLite replay store against
training on one batch held in memory (the ceiling).

Connect Four with the default network, batch size, window and prefetch depth
from config.toml, on the CPU. The store is pre-filled with synthetic games
(random legal moves, random policy targets: speed does not depend on them).
"Fed" runs the trainer's own feeding path: a ReplaySampler on a Prefetcher
thread, one optimiser step per batch taken from it. Ceiling and fed steps
alternate one by one, so load from other processes hits both alike.
ratio = samples_per_s / ceiling_samples_per_s (target >= 0.85).

`adamw`: the in-memory step with each AdamW implementation (the per-tensor loop that
was PyTorch's CPU default before the trainer chose fused), steps alternating between
them, so the before/after of the optimiser change comes from one run.

`precision`: the in-memory step in float32 with PyTorch's default layout (the trainer
before it chose its CPU settings), float32 channels-last, and bfloat16 autocast
channels-last, alternating the same way; for Connect Four's ResNet and tic-tac-toe's MLP.
The trained steps above run in the precision the trainer's own start-up timing picks
(`autocast`, with that probe's figures).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cartridge.config import load_settings
from cartridge.games import get_game
from cartridge.network import build_network
from cartridge.replay.sqlite import SqliteReplayStore
from cartridge.threads import thread_count
from tests.trainer.helpers import (  # the synthetic games the trainer tests use
    fill_replay,
    fixed_batch,
)
from trainer.batches import Batch, ReplaySampler
from trainer.device import memory_format
from trainer.optimise import AdamImplementation, make_optimizer, train_step
from trainer.precision import choose_autocast
from trainer.prefetch import Prefetcher

log = logging.getLogger("bench.trainer")
CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
ENV = "connect4"
GAMES = 600  # ~13k positions
STEPS = 30  # of each kind
WARMUP_STEPS = 2
FETCH_SAMPLES = 20


def run() -> dict:
    settings = load_settings(CONFIG, environ={})
    cfg, network = settings.training, settings.network.for_game(ENV)
    game = get_game(ENV)
    device = torch.device("cpu")
    torch.set_num_threads(thread_count(cfg.threads, "[training] threads", "PyTorch intra-op pool"))
    torch.manual_seed(0)
    layout = memory_format(device)
    model = build_network(game, network).to(device, memory_format=layout).train()
    precision = choose_autocast(model, game, device=device, amp=cfg.amp,  # as trained
                                batch_size=cfg.batch_size, lr=cfg.lr,
                                weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip)
    dtype = precision.dtype
    log.info("autocast: %s", precision.describe())
    optimizer = make_optimizer(model, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def step(batch) -> None:
        train_step(model, optimizer, batch, lr=cfg.lr, grad_clip=cfg.grad_clip,
                   device=device, amp_dtype=dtype)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replay.db"
        positions = fill_replay(path, ENV, GAMES)
        log.info("replay: %d %s positions in %s", positions, ENV, path)

        def sampler(seed: int) -> ReplaySampler:
            return ReplaySampler(lambda: SqliteReplayStore(path), ENV, cfg.batch_size,
                                 settings.replay.window, np.random.default_rng(seed),
                                 pin_memory=False)

        # The feeding cost alone, in this thread.
        probe = sampler(1)
        held = probe.fetch()
        started = time.perf_counter()
        for _ in range(FETCH_SAMPLES):
            probe.fetch()
        fetch_ms = (time.perf_counter() - started) / FETCH_SAMPLES * 1000
        probe.close()

        feeder = sampler(2)
        ceiling_s = fed_s = waited_s = 0.0
        with Prefetcher(feeder.fetch, depth=cfg.prefetch_batches, on_exit=feeder.close,
                        name="bench-prefetch") as prefetcher:
            for _ in range(WARMUP_STEPS):
                step(held)
                step(prefetcher.get())
            for i in range(STEPS):
                # Which goes first alternates too: no kind always follows the other.
                for kind in ("ceiling", "fed") if i % 2 == 0 else ("fed", "ceiling"):
                    started = time.perf_counter()
                    if kind == "ceiling":
                        step(held)
                        ceiling_s += time.perf_counter() - started
                    else:
                        batch = prefetcher.get()
                        waited_s += time.perf_counter() - started
                        step(batch)
                        fed_s += time.perf_counter() - started
                if (i + 1) % 10 == 0:
                    log.info("%d/%d step pairs: ceiling %.1f s, fed %.1f s", i + 1, STEPS,
                             ceiling_s, fed_s)

    samples = STEPS * cfg.batch_size
    fed, ceiling = samples / fed_s, samples / ceiling_s
    return {
        "env_id": ENV,
        "network": network.model_dump(),
        "batch_size": cfg.batch_size,
        "device": "cpu",
        "autocast": precision.name,
        "autocast_probe_samples_per_s": {k: round(v, 1)
                                         for k, v in precision.samples_per_s.items()},
        "memory_format": str(layout).removeprefix("torch."),
        "torch_threads": torch.get_num_threads(),
        "replay_positions": positions,
        "steps_measured": STEPS,
        "samples_per_s": round(fed, 1),
        "ceiling_samples_per_s": round(ceiling, 1),
        "ratio": round(fed / ceiling, 3),
        "fetch_ms_per_batch": round(fetch_ms, 2),
        "optimiser_wait_ms_per_step": round(waited_s / STEPS * 1000, 2),
        "adamw_samples_per_s": _compare_adamw(game, network, held, cfg),
        "precision_samples_per_s": _compare_precision(game, network, held, cfg),
        # Tic-tac-toe's MLP, on the same kind of synthetic batch (no replay store needed).
        "tictactoe_precision_samples_per_s": _compare_precision(
            get_game("tictactoe"), settings.network.for_game("tictactoe"),
            _first(fixed_batch("tictactoe", games=64, seed=0), cfg.batch_size), cfg),
    }


Setup = tuple[torch.nn.Module, torch.optim.Optimizer, "torch.dtype | None"]


def _compare_adamw(game, network, batch, cfg) -> dict[str, float]:
    """Samples/s of the in-memory step per AdamW implementation (float32, default layout)."""
    kinds: tuple[AdamImplementation, ...] = ("single_tensor", "foreach", "fused")
    setups = {}
    for kind in kinds:
        torch.manual_seed(0)
        model = build_network(game, network).train()
        setups[kind] = (model, make_optimizer(model, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                              implementation=kind), None)
    return _alternate(setups, batch, cfg)


def _compare_precision(game, network, batch, cfg) -> dict[str, float]:
    """Samples/s of the in-memory step per precision and memory layout."""
    kinds = {"fp32": (None, torch.contiguous_format),
             "fp32_channels_last": (None, torch.channels_last),
             "bf16_channels_last": (torch.bfloat16, torch.channels_last)}
    setups = {}
    for kind, (dtype, layout) in kinds.items():
        torch.manual_seed(0)
        model = build_network(game, network).to(memory_format=layout).train()
        setups[kind] = (model, make_optimizer(model, lr=cfg.lr, weight_decay=cfg.weight_decay),
                        dtype)
    return _alternate(setups, batch, cfg)


def _first(batch: Batch, rows: int) -> Batch:
    return Batch(*(t[:rows] for t in (batch.observations, batch.legal_masks, batch.policies,
                                      batch.values)))


def _alternate(setups: dict[str, Setup], batch, cfg) -> dict[str, float]:
    """One step of each setup in turn, rotating who goes first, so load hits all alike."""
    kinds = list(setups)
    seconds = dict.fromkeys(kinds, 0.0)
    for i in range(WARMUP_STEPS + STEPS):
        shift = i % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            model, optimizer, dtype = setups[kind]
            started = time.perf_counter()
            train_step(model, optimizer, batch, lr=cfg.lr, grad_clip=cfg.grad_clip,
                       device=torch.device("cpu"), amp_dtype=dtype)
            if i >= WARMUP_STEPS:
                seconds[kind] += time.perf_counter() - started
    return {kind: round(STEPS * cfg.batch_size / s, 1) for kind, s in seconds.items()}
