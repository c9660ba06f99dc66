"""Prometheus metrics of the actor and the trainer, and the tiny server that exposes them.

Names follow `cartridge_<component>_<what>_<unit>`: base units (seconds), `_total`
for counters, and labels only for low-cardinality things (`game`, `kind`). Which
replica a series comes from is Prometheus' business (the `instance` target label),
never a label of ours. Rates (positions/s, steps/s, ingest) are derived by
Prometheus from the counters: `rate(cartridge_actor_positions_total[1m])`.

Each service builds one metrics object on a registry of its own (no global
state), updates it at the right spots and calls `serve_metrics(port, registry)`
once. `[actor] metrics_port` / `[training] metrics_port` = 0 serves nothing.

    ActorMetrics     self-play output, replay writer queue, model version and reload
                     latency (publish time -> in use), inference batch size and latency
    TrainerMetrics   steps, samples, losses, learning rate, model version, checkpoint
                     and publish durations, time waiting at the train/data ratio gate,
                     and the replay buffer's size and ingest
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cartridge.inference.base import Evaluator
from cartridge.modelstore.base import ModelInfo, ModelStore, Pointer
from cartridge.replay.base import ReplayStats

log = logging.getLogger(__name__)

# Seconds: sub-millisecond inference calls up to minute-long checkpoint uploads.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


def serve_metrics(port: int, registry: CollectorRegistry, addr: str = "0.0.0.0") -> Any | None:
    """Serve `registry` at http://addr:port/metrics in a daemon thread; None when port is 0.

    Returns the HTTP server (call `.shutdown()` to stop it early).
    """
    if port == 0:
        return None
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    log.info("serving Prometheus metrics on %s:%d/metrics", addr, port)
    return server


class _Snapshot(Collector):
    """Exposes values a callback reads at scrape time (counters owned by other objects)."""

    def __init__(self, read: Callable[[], Iterator[Metric]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        yield from self._read()


class ActorMetrics:
    """One actor process; `game` labels every series."""

    def __init__(self, game: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.game = game
        r = self.registry
        self.games = Counter("cartridge_actor_games", "Self-play games finished",
                             ["game"], registry=r).labels(game)
        self.positions = Counter("cartridge_actor_positions",
                                 "Positions in finished self-play games", ["game"],
                                 registry=r).labels(game)
        self.fast_moves = Counter(
            "cartridge_actor_fast_moves",
            "Self-play moves played with the fast search and not recorded (playout cap "
            "randomization, [selfplay] full_search_fraction < 1)", ["game"],
            registry=r).labels(game)
        self.model_version = Gauge("cartridge_actor_model_version",
                                   "Model version self-play uses now (0 = uniform bootstrap)",
                                   ["game"], registry=r).labels(game)
        self.reload_latency = Histogram(
            "cartridge_actor_model_reload_latency_seconds",
            "Seconds from a model's publication to its first use in self-play", ["game"],
            buckets=_LATENCY_BUCKETS, registry=r).labels(game)
        self.inference_batch = Histogram(
            "cartridge_actor_inference_batch_size", "Positions per inference call", ["game"],
            buckets=_BATCH_BUCKETS, registry=r).labels(game)
        self.inference_latency = Histogram(
            "cartridge_actor_inference_latency_seconds", "Seconds per inference call",
            ["game"], buckets=_LATENCY_BUCKETS, registry=r).labels(game)
        self._published_at: dict[int, float] = {}
        self._lock = threading.Lock()
        self._writer: Any = None
        r.register(_Snapshot(self._writer_metrics))

    # -- self-play ------------------------------------------------------------

    def game_finished(self, positions: int) -> None:
        """A finished game and its recorded positions (0: every move was fast)."""
        self.games.inc()
        self.positions.inc(positions)

    def observe_writer(self, writer: Any) -> None:
        """Expose a ReplayWriter's acknowledged games/positions and queue length."""
        self._writer = writer

    def _writer_metrics(self) -> Iterator[Metric]:
        writer = self._writer
        if writer is None:
            return
        for name, doc, value in (
            ("cartridge_actor_stored_games", "Games the replay store acknowledged",
             writer.acknowledged_games),
            ("cartridge_actor_stored_positions", "Positions the replay store acknowledged",
             writer.acknowledged_positions),
        ):
            family = CounterMetricFamily(name, doc, labels=["game"])
            family.add_metric([self.game], value)
            yield family
        queue = GaugeMetricFamily("cartridge_actor_replay_queue_games",
                                  "Finished games waiting for the replay store", labels=["game"])
        queue.add_metric([self.game], writer.pending_games)
        yield queue

    # -- models ---------------------------------------------------------------

    def track_loads(
        self, load: Callable[[ModelInfo, bytes], Evaluator]
    ) -> Callable[[ModelInfo, bytes], Evaluator]:
        """Wrap a ModelWatcher `load` callback to remember each version's publish time."""

        def loading(info: ModelInfo, onnx: bytes) -> Evaluator:
            with self._lock:
                self._published_at[info.version] = info.created_at
            return load(info, onnx)

        return loading

    def model_in_use(self, version: int, *, reload: bool = True) -> None:
        """Self-play now uses `version`. For a reload (not the model a starting actor
        picks up) the latency since its publication, remembered by `track_loads`."""
        self.model_version.set(version)
        with self._lock:
            created = self._published_at.pop(version, None)
        if reload and created:
            self.reload_latency.observe(max(0.0, time.time() - created))

    def instrument(self, evaluator: Evaluator) -> Evaluator:
        """The evaluator, with its calls' batch size and latency recorded."""
        return _TimedEvaluator(evaluator, self)


class _TimedEvaluator:
    def __init__(self, inner: Evaluator, metrics: ActorMetrics) -> None:
        self.inner = inner
        self.model_version = inner.model_version
        self._metrics = metrics

    def evaluate(
        self, observations: np.ndarray, legal_masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        started = time.perf_counter()
        result = self.inner.evaluate(observations, legal_masks)
        self._metrics.inference_latency.observe(time.perf_counter() - started)
        self._metrics.inference_batch.observe(len(observations))
        return result


class TrainerMetrics:
    """The trainer process; `game` labels every series, `kind` the loss terms."""

    LOSS_KINDS = ("policy", "value", "total")

    def __init__(self, game: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.game = game
        r = self.registry
        self.steps = Counter("cartridge_trainer_steps", "Optimisation steps run by this process",
                             ["game"], registry=r).labels(game)
        self.samples = Counter("cartridge_trainer_samples", "Training samples consumed",
                               ["game"], registry=r).labels(game)
        self.step = Gauge("cartridge_trainer_step",
                          "Global training step (carried across restarts by checkpoints)",
                          ["game"], registry=r).labels(game)
        loss = Gauge("cartridge_trainer_loss", "Mean training loss since the last report",
                     ["game", "kind"], registry=r)
        self.loss = {kind: loss.labels(game, kind) for kind in self.LOSS_KINDS}
        self.learning_rate = Gauge("cartridge_trainer_learning_rate", "Current learning rate",
                                   ["game"], registry=r).labels(game)
        self.model_version = Gauge("cartridge_trainer_model_version",
                                   "Newest model version this trainer published or resumed",
                                   ["game"], registry=r).labels(game)
        self.checkpoint_duration = Histogram(
            "cartridge_trainer_checkpoint_duration_seconds",
            "Seconds to capture a checkpoint and export ONNX (and quantize it to int8)",
            ["game"],
            buckets=_LATENCY_BUCKETS, registry=r).labels(game)
        self.publish_duration = Histogram(
            "cartridge_trainer_publish_duration_seconds",
            "Seconds to upload one model version to the model store", ["game"],
            buckets=_LATENCY_BUCKETS, registry=r).labels(game)
        self._ratio_waited_s: Callable[[], float] | None = None
        self._replay: ReplayStats | None = None
        r.register(_Snapshot(self._replay_metrics))
        r.register(_Snapshot(self._ratio_gate_metrics))

    def trained(self, step: int, samples: int) -> None:
        """One optimisation step finished; `step` is the global step after it."""
        self.steps.inc()
        self.samples.inc(samples)
        self.step.set(step)

    def report(self, *, policy_loss: float, value_loss: float, learning_rate: float,
               version: int | None) -> None:
        self.loss["policy"].set(policy_loss)
        self.loss["value"].set(value_loss)
        self.loss["total"].set(policy_loss + value_loss)
        self.learning_rate.set(learning_rate)
        if version is not None:
            self.model_version.set(version)

    def watch_ratio_gate(self, waited_s: Callable[[], float]) -> None:
        """Export the train/data ratio gate's total wait, read at each scrape (a long wait
        shows while it lasts, not only after the next step)."""
        self._ratio_waited_s = waited_s

    def observe_replay(self, stats: ReplayStats) -> None:
        """The replay buffer's size and ingest, as of the trainer's last look."""
        self._replay = stats

    def _replay_metrics(self) -> Iterator[Metric]:
        stats = self._replay
        if stats is None:
            return
        for family, value in (
            (GaugeMetricFamily("cartridge_replay_positions",
                               "Positions stored in the replay buffer", labels=["game"]),
             stats.positions),
            (GaugeMetricFamily("cartridge_replay_games", "Games stored in the replay buffer",
                               labels=["game"]), stats.games),
            (CounterMetricFamily("cartridge_replay_positions_added",
                                 "Positions ever added to the replay buffer (rate = ingest)",
                                 labels=["game"]), stats.total_positions),
        ):
            family.add_metric([self.game], value)
            yield family

    def _ratio_gate_metrics(self) -> Iterator[Metric]:
        if self._ratio_waited_s is None:
            return
        family = CounterMetricFamily(
            "cartridge_trainer_ratio_wait_seconds",
            "Seconds spent waiting at the train/data ratio gate for fresh self-play data; its "
            "rate is the trainer's demand for more self-play (0 = the trainer is the limit)",
            labels=["game"])
        family.add_metric([self.game], self._ratio_waited_s())
        yield family

    def timed_publishing(self, store: ModelStore) -> ModelStore:
        """The store, with each publish() call's duration recorded."""
        return _TimedPublishStore(store, self.publish_duration)


class _TimedPublishStore(ModelStore):
    """Delegates everything to `inner`; times publish()."""

    def __init__(self, inner: ModelStore, duration: Any) -> None:
        self.inner = inner
        self.env_id = inner.env_id
        self._duration = duration

    def publish(self, onnx: bytes, checkpoint: bytes, *, step: int,
                network: dict[str, Any], run: dict[str, Any] | None = None,
                int8: bytes | None = None) -> ModelInfo:
        with self._duration.time():
            return self.inner.publish(onnx, checkpoint, step=step, network=network, run=run,
                                      int8=int8)

    def pointer(self, name: Pointer = "latest") -> int | None:
        return self.inner.pointer(name)

    def info(self, version: int) -> ModelInfo:
        return self.inner.info(version)

    def load_onnx(self, version: int) -> bytes:
        return self.inner.load_onnx(version)

    def load_int8(self, version: int) -> bytes:
        return self.inner.load_int8(version)

    def load_checkpoint(self, version: int) -> bytes:
        return self.inner.load_checkpoint(version)

    def versions(self) -> list[int]:
        return self.inner.versions()

    def promote(self, version: int) -> None:
        self.inner.promote(version)

    def delete(self, version: int) -> None:
        self.inner.delete(version)

    def unfinished_deletes(self) -> list[int]:
        return self.inner.unfinished_deletes()

    def __repr__(self) -> str:
        return repr(self.inner)


def exported_metric_names() -> set[str]:
    """Every sample name the actor and trainer expose (`_total`, `_bucket`, `_sum`,
    `_count` included); dashboards and tests check their queries against it."""

    class _IdleWriter:
        acknowledged_games = acknowledged_positions = pending_games = 0

    actor, trainer = ActorMetrics("game"), TrainerMetrics("game")
    actor.observe_writer(_IdleWriter())
    trainer.observe_replay(ReplayStats(positions=0, games=0, total_positions=0))
    trainer.watch_ratio_gate(lambda: 0.0)
    return {sample.name
            for registry in (actor.registry, trainer.registry)
            for family in registry.collect()
            for sample in family.samples}
