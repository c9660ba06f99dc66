"""The training loop, top to bottom as labelled phases.

    1. setup     device, seeds, network, optimiser
    2. resume    the latest checkpoint in the model store, if any
    3. wait      for the replay buffer to exist and hold min_positions
    4. prefetch  a background thread samples and augments batches
    5. train     ratio gate -> batch -> lr -> forward/backward -> clip -> step
                 (-> the weights' moving average, with [training] ema_decay);
                 every checkpoint_interval: checkpoint + publish (fp32 ONNX, and int8
                 calibrated on the last positions trained on when the game's actors
                 play int8 or [training] publish_int8) + trim
    6. finish    a final checkpoint + publish (on --steps reached, SIGTERM or SIGINT)

Published version N carries the step its weights come from: the network's own, or
with ema_decay their moving average up to that step. The first publish
happens at the first checkpoint_interval, not at step 0: until then actors
self-play with the uniform evaluator, which is what an untrained network would
approximate anyway, and every published model is a trained one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cartridge.config.settings import NetworkConfig, ReplaySettings, TrainingSettings
from cartridge.games.base import Game
from cartridge.journal import BestEffortJournal, TrainingRow
from cartridge.metrics import TrainerMetrics, serve_metrics
from cartridge.modelstore.base import CorruptModelError, ModelStore
from cartridge.modelstore.publisher import ModelPublisher
from cartridge.modelstore.retention import RetentionPolicy
from cartridge.network import build_network, export_onnx
from cartridge.network.quantize import QuantizationError, quantize_int8
from cartridge.replay.base import ReplayStore
from cartridge.threads import thread_count
from trainer import checkpoint
from trainer.averaging import WeightAverage
from trainer.batches import ReplaySampler
from trainer.calibration import RecentObservations
from trainer.device import detect_device, memory_format
from trainer.optimise import make_optimizer, train_step
from trainer.precision import choose_autocast
from trainer.prefetch import Prefetcher
from trainer.ratio import RatioLimiter
from trainer.schedule import learning_rate
from trainer.stats import TrainingStats, write_stats
from trainer.waiting import wait_for_replay

log = logging.getLogger(__name__)

# Seconds between progress log lines (and stats.json updates between checkpoints).
LOG_INTERVAL = 10.0


@dataclass(frozen=True)
class TrainerInputs:
    """Everything the loop needs, wired by the entry point."""

    game: Game
    network: NetworkConfig
    training: TrainingSettings
    replay: ReplaySettings
    open_replay: Callable[[], ReplayStore | None]  # None while the buffer does not exist
    replay_where: str  # where the buffer is, for messages
    models: ModelStore
    stats_path: Path
    publish_int8: bool  # an int8 model with each version (Settings.publishes_int8)
    retention: RetentionPolicy | None = None  # None = keep every version
    # Versions retention keeps besides its policy (the arena's promotions); may raise.
    protected_versions: Callable[[], set[int]] | None = None
    run_facts: dict[str, Any] | None = None  # what produced the models, in their metadata
    history: BestEffortJournal | None = None  # each report's row, for the web dashboard


def train(inputs: TrainerInputs, stop: threading.Event) -> int:
    """Train until [training] steps or `stop`; returns the final step.

    With [training] when_done = "idle", a trainer that reached its steps waits for
    `stop` (still serving metrics) instead of returning.
    """
    metrics = TrainerMetrics(inputs.game.id)
    metrics_server = serve_metrics(inputs.training.metrics_port, metrics.registry)
    try:
        step = _train(inputs, stop, metrics)
        if step >= inputs.training.steps and inputs.training.when_done == "idle":
            log.info("reached [training] steps = %d: idling until stopped",
                     inputs.training.steps)
            stop.wait()
        return step
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()


def _train(inputs: TrainerInputs, stop: threading.Event, metrics: TrainerMetrics) -> int:
    cfg, game = inputs.training, inputs.game
    network_dict = inputs.network.model_dump()

    # ---- 1. setup -------------------------------------------------------------
    device = detect_device(cfg.device)
    # PyTorch sizes its pool to the host's cores, blind to affinity masks and CPU quotas.
    torch.set_num_threads(thread_count(cfg.threads, "[training] threads", "PyTorch intra-op pool"))
    seed = cfg.seed or int(np.random.SeedSequence().entropy % 2**63)
    torch.manual_seed(seed)
    sampler_rng = np.random.default_rng(seed)
    layout = memory_format(device)
    model = build_network(game, inputs.network).to(device, memory_format=layout)
    optimizer = make_optimizer(model, lr=cfg.lr, weight_decay=cfg.weight_decay)
    average = WeightAverage(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    published = model if average is None else average.module
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest kernels
    precision = choose_autocast(model, game, device=device, amp=cfg.amp,
                                batch_size=cfg.batch_size, lr=cfg.lr,
                                weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip)
    dtype = precision.dtype
    log.info("training %s on %s in %s, %s, seed %d, network %s, publishing %s%s",
             game.id, device, precision.describe(), str(layout).removeprefix("torch."), seed,
             network_dict, "fp32 and int8 models" if inputs.publish_int8 else "fp32 models",
             "" if average is None else
             f" of the weights' moving average (decay {average.decay})")

    # ---- 2. resume ------------------------------------------------------------
    step, resumed_version = _resume(inputs.models, game.id, network_dict, model, optimizer,
                                    sampler_rng, average)
    last_saved = step
    metrics.step.set(step)
    if resumed_version is not None:
        metrics.model_version.set(resumed_version)
    if step >= cfg.steps:
        log.info("step %d already reaches [training] steps = %d: nothing to do", step, cfg.steps)
        return step

    # ---- 3. wait for data -----------------------------------------------------
    replay = wait_for_replay(
        inputs.open_replay, where=inputs.replay_where, env_id=game.id,
        min_positions=cfg.min_positions, interval=cfg.wait_interval, max_wait=cfg.max_wait,
        wait=stop.wait,
    )
    if replay is None:  # stopped while waiting: nothing trained, nothing to save
        return step

    # ---- 4. prefetch ----------------------------------------------------------
    sampler = ReplaySampler(inputs.open_replay, game.id, cfg.batch_size, inputs.replay.window,
                            sampler_rng, pin_memory=device.type == "cuda")
    prefetcher = Prefetcher(sampler.fetch, depth=cfg.prefetch_batches, on_exit=sampler.close,
                            name="trainer-prefetch")
    limiter = RatioLimiter(cfg.max_samples_per_position,
                           lambda: replay.stats(game.id).total_positions,
                           wait=stop.wait, wait_interval=cfg.wait_interval)
    metrics.watch_ratio_gate(limiter.waited_s)
    # Uploads run in the publisher's thread, retried through store outages, in order.
    # The run's configured facts, plus the seed and device this trainer actually chose.
    run_facts = None if inputs.run_facts is None else {
        **inputs.run_facts, "trainer": {"seed": seed, "device": str(device),
                                      "autocast": precision.name}}
    publisher = ModelPublisher(metrics.timed_publishing(inputs.models), run=run_facts,
                               retention=inputs.retention,
                               protected=inputs.protected_versions)
    meter = _Meter()
    recent = RecentObservations()  # the int8 model's calibration data
    lr = cfg.lr

    def save_and_publish() -> None:
        nonlocal last_saved
        started = time.perf_counter()
        state = checkpoint.capture(step=step, env_id=game.id, network=network_dict, model=model,
                                   optimizer=optimizer, sampler_rng=sampler_rng,
                                   average=average)
        onnx = export_onnx(published, game, inputs.network, step=step)  # a CPU eval copy
        quantizing = time.perf_counter()
        int8 = _quantized(onnx, recent, step) if inputs.publish_int8 else None
        done = time.perf_counter()
        metrics.checkpoint_duration.observe(done - started)
        publisher.submit(onnx, checkpoint.to_bytes(state), step=step, network=network_dict,
                         int8=int8)
        last_saved = step
        # The trainer is the one trimmer: actors only append.
        trimmed = replay.trim(game.id, inputs.replay.capacity)
        log.info("step %d: checkpoint submitted for publishing%s%s", step,
                 f" with an int8 model (quantized in {done - quantizing:.2f} s)" if int8 else "",
                 f"; trimmed {trimmed} old positions" if trimmed else "")

    def version() -> int | None:
        latest = publisher.last_published
        return resumed_version if latest is None else latest.version

    # ---- 5. train -------------------------------------------------------------
    try:
        model.train()
        while step < cfg.steps and not stop.is_set():
            if not limiter.acquire(step * cfg.batch_size, cfg.batch_size):
                break
            batch = prefetcher.get()
            recent.add(batch.observations)
            batch = batch.to(device)
            lr = learning_rate(step, peak=cfg.lr, total_steps=cfg.steps,
                               warmup_steps=cfg.warmup_steps, min_ratio=cfg.lr_min_ratio,
                               cosine=cfg.lr_schedule)
            policy_loss, value_loss = train_step(model, optimizer, batch, lr=lr,
                                                 grad_clip=cfg.grad_clip, device=device,
                                                 amp_dtype=dtype)
            if average is not None:
                average.update()
            step += 1
            meter.add(policy_loss, value_loss, cfg.batch_size)
            metrics.trained(step, cfg.batch_size)

            if step % cfg.checkpoint_interval == 0:
                save_and_publish()
            if step % cfg.checkpoint_interval == 0 or meter.due():
                _report(inputs, meter, step, lr, version(), replay, metrics, limiter.waited_s(),
                        precision.name)

        # ---- 6. finish --------------------------------------------------------
        if step > last_saved:
            save_and_publish()
        publisher.flush()
        _report(inputs, meter, step, lr, version(), replay, metrics, limiter.waited_s(),
                precision.name)
    finally:
        prefetcher.close()
        replay.close()
        publisher.close()  # waits until every submitted checkpoint is stored
        if inputs.history is not None:
            inputs.history.close()
    log.info("stopped at step %d; latest model version %s", step, version())
    return step


def _quantized(onnx: bytes, recent: RecentObservations, step: int) -> bytes | None:
    """The int8 model of `onnx`, calibrated on the latest observations trained on; None
    (logged as an error) when quantization fails: the fp32 model is published anyway,
    and actors set to int8 skip this version."""
    try:
        return quantize_int8(onnx, recent.latest())
    except QuantizationError as err:
        log.error("step %d: publishing without an int8 model: %s", step, err)
        return None


def _resume(
    models: ModelStore,
    env_id: str,
    network: dict,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    sampler_rng: np.random.Generator,
    average: WeightAverage | None = None,
) -> tuple[int, int | None]:
    """(step, latest version) from the newest readable checkpoint; (0, None) on a fresh start.

    A corrupt newest version (sha256 mismatch) falls back to the one before it.
    """
    for version in reversed(models.versions()):
        try:
            state = checkpoint.from_bytes(models.load_checkpoint(version))
        except CorruptModelError as err:
            log.warning("skipping model version %d: %s", version, err)
            continue
        step = checkpoint.restore(state, env_id=env_id, network=network, model=model,
                                  optimizer=optimizer, sampler_rng=sampler_rng,
                                  average=average)
        log.info("resumed from model version %d at step %d", version, step)
        return step, version
    log.info("no checkpoint in the model store: starting from step 0")
    return 0, None


class _Meter:
    """Loss averages and throughput since the last report. Losses stay on the
    device until reported, so CUDA is not synchronised every step."""

    def __init__(self) -> None:
        self._last: tuple[float, float, float] | None = None
        self._reset()

    def _reset(self, waited_s: float = 0.0) -> None:
        self._policy: torch.Tensor | float = 0.0
        self._value: torch.Tensor | float = 0.0
        self._count = self._samples = 0
        self._since = time.monotonic()
        self._waited_since = waited_s

    def add(self, policy: torch.Tensor, value: torch.Tensor, samples: int) -> None:
        self._policy = self._policy + policy
        self._value = self._value + value
        self._count += 1
        self._samples += samples

    def due(self) -> bool:
        return time.monotonic() - self._since >= LOG_INTERVAL

    def take(self, waited_s: float) -> tuple[float, float, float, float] | None:
        """(policy loss, value loss, samples/s, share of time waiting at the ratio gate)
        since the last take, given the gate's total wait `waited_s`; the previous figures
        if no step ran since; None before the first step."""
        if self._count:
            elapsed = max(time.monotonic() - self._since, 1e-9)
            waiting = min(1.0, max(0.0, (waited_s - self._waited_since) / elapsed))
            self._last = (float(self._policy) / self._count, float(self._value) / self._count,
                          self._samples / elapsed, waiting)
            self._reset(waited_s)
        return self._last


def _report(inputs: TrainerInputs, meter: _Meter, step: int, lr: float,
            version: int | None, replay: ReplayStore, metrics: TrainerMetrics,
            ratio_waited_s: float, autocast: str) -> None:
    taken = meter.take(ratio_waited_s)
    if taken is None:
        return
    replay_stats = replay.stats(inputs.game.id)  # once per report, never per step
    metrics.observe_replay(replay_stats)
    policy_loss, value_loss, rate, waiting = taken
    metrics.report(policy_loss=policy_loss, value_loss=value_loss, learning_rate=lr,
                   version=version)
    log.info("step %d/%d  loss %.4f (policy %.4f, value %.4f)  lr %.2e  %.0f samples/s, "
             "%.0f%% of the time waiting for data", step, inputs.training.steps,
             policy_loss + value_loss, policy_loss, value_loss, lr, rate, 100 * waiting)
    write_stats(inputs.stats_path, TrainingStats(
        env_id=inputs.game.id, step=step, total_steps=inputs.training.steps,
        total_loss=policy_loss + value_loss, policy_loss=policy_loss, value_loss=value_loss,
        learning_rate=lr, samples_per_s=rate, model_version=version,
        replay_positions=replay_stats.positions, ratio_wait_share=waiting,
        ratio_wait_s=ratio_waited_s, autocast=autocast, timestamp=time.time(),
    ))
    if inputs.history is not None:
        row = TrainingRow(
            env_id=inputs.game.id, step=step, total_loss=policy_loss + value_loss,
            policy_loss=policy_loss, value_loss=value_loss, learning_rate=lr,
            samples_per_s=rate, model_version=version, replay_positions=replay_stats.positions,
            replay_games=replay_stats.games, replay_added=replay_stats.total_positions,
            ratio_wait_share=waiting, recorded_at=time.time())
        inputs.history.write(lambda journal: journal.record_training(row))
