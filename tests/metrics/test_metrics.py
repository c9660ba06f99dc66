"""The metrics module: naming rules, what each helper records, and the HTTP endpoint."""

from __future__ import annotations

import errno
import re
import socket
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from cartridge.config.settings import load_settings
from cartridge.inference.base import UniformEvaluator
from cartridge.metrics import ActorMetrics, TrainerMetrics, exported_metric_names, serve_metrics
from cartridge.modelstore.base import ModelInfo
from cartridge.replay.base import ReplayStats

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"
_NAME = re.compile(r"^cartridge_(actor|trainer|replay)_[a-z0-9_]+$")
# Suffixes that name a unit or a Prometheus sample type, not a quantity.
_UNIT_WORDS = ("milliseconds", "ms", "minutes", "hours", "bytes_kb", "kilobytes")


def _families(registry):
    return list(registry.collect())


def test_names_follow_the_convention() -> None:
    actor, trainer = ActorMetrics("tictactoe"), TrainerMetrics("tictactoe")
    actor.observe_writer(type("W", (), {"acknowledged_games": 1, "acknowledged_positions": 9,
                                        "pending_games": 0})())
    trainer.observe_replay(ReplayStats(positions=5, games=1, total_positions=5))
    for registry in (actor.registry, trainer.registry):
        for family in _families(registry):
            assert _NAME.match(family.name), family.name
            assert not family.name.endswith(_UNIT_WORDS), f"{family.name}: use base units"
            if family.type == "counter":
                assert any(s.name == family.name + "_total" for s in family.samples)
            else:
                assert not family.name.endswith("_total"), family.name
            for sample in family.samples:
                assert set(sample.labels) <= {"game", "kind", "le"}, (sample.name, sample.labels)


def test_actor_records_games_reloads_and_inference() -> None:
    metrics = ActorMetrics("tictactoe")
    metrics.game_finished(7)
    metrics.game_finished(5)
    info = ModelInfo(env_id="tictactoe", version=3, step=300, network={}, sha256="x",
                     checkpoint_sha256="y", onnx_bytes=1, checkpoint_bytes=1,
                     created_at=time.time() - 2.0)
    load = metrics.track_loads(lambda info, onnx: UniformEvaluator())
    load(info, b"")
    metrics.model_in_use(3)
    evaluator = metrics.instrument(UniformEvaluator())
    evaluator.evaluate(np.zeros((4, 2, 3, 3), np.float32), np.ones((4, 9), bool))
    get = metrics.registry.get_sample_value
    assert get("cartridge_actor_games_total", {"game": "tictactoe"}) == 2
    assert get("cartridge_actor_positions_total", {"game": "tictactoe"}) == 12
    assert get("cartridge_actor_model_version", {"game": "tictactoe"}) == 3
    assert get("cartridge_actor_model_reload_latency_seconds_count", {"game": "tictactoe"}) == 1
    assert get("cartridge_actor_model_reload_latency_seconds_sum", {"game": "tictactoe"}) >= 2.0
    assert get("cartridge_actor_inference_batch_size_sum", {"game": "tictactoe"}) == 4
    assert evaluator.model_version == 0


def test_the_model_a_starting_actor_loads_is_no_reload() -> None:
    metrics = ActorMetrics("tictactoe")
    info = ModelInfo(env_id="tictactoe", version=9, step=900, network={}, sha256="x",
                     checkpoint_sha256="y", onnx_bytes=1, checkpoint_bytes=1,
                     created_at=time.time() - 3600.0)
    metrics.track_loads(lambda info, onnx: UniformEvaluator())(info, b"")
    metrics.model_in_use(9, reload=False)
    get = metrics.registry.get_sample_value
    assert get("cartridge_actor_model_version", {"game": "tictactoe"}) == 9
    assert get("cartridge_actor_model_reload_latency_seconds_count", {"game": "tictactoe"}) == 0


def test_trainer_records_steps_losses_and_replay() -> None:
    metrics = TrainerMetrics("connect4")
    metrics.trained(101, 256)
    metrics.report(policy_loss=1.5, value_loss=0.25, learning_rate=0.001, version=4)
    metrics.observe_replay(ReplayStats(positions=900, games=30, total_positions=1200))
    get = metrics.registry.get_sample_value
    assert get("cartridge_trainer_steps_total", {"game": "connect4"}) == 1
    assert get("cartridge_trainer_samples_total", {"game": "connect4"}) == 256
    assert get("cartridge_trainer_step", {"game": "connect4"}) == 101
    assert get("cartridge_trainer_loss", {"game": "connect4", "kind": "total"}) == 1.75
    assert get("cartridge_trainer_model_version", {"game": "connect4"}) == 4
    assert get("cartridge_replay_positions_added_total", {"game": "connect4"}) == 1200


def _serve_on_a_free_port(registry) -> tuple[object, int]:
    """serve_metrics on a port picked free; port 0 means "off" there, so it cannot let the
    kernel pick: another process may take the port first, then pick again."""
    for _ in range(20):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        try:
            return serve_metrics(port, registry, addr="127.0.0.1"), port
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
    pytest.fail("no free port for the metrics server in 20 tries")


def test_serve_metrics_serves_the_registry() -> None:
    metrics = TrainerMetrics("othello")
    metrics.trained(1, 8)
    server, port = _serve_on_a_free_port(metrics.registry)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        server.shutdown()
        server.server_close()
    assert b'cartridge_trainer_steps_total{game="othello"} 1.0' in body


def test_port_zero_serves_nothing() -> None:
    assert serve_metrics(0, TrainerMetrics("othello").registry) is None


@pytest.mark.parametrize("section", ["actor", "training"])
def test_metrics_port_is_a_setting(section: str) -> None:
    # The repository's config.toml, not whatever ./config.toml or $CARTRIDGE_CONFIG names.
    assert getattr(load_settings(CONFIG, environ={}), section).metrics_port == 0
    variable = f"CARTRIDGE_{section.upper()}_METRICS_PORT"
    settings = load_settings(CONFIG, environ={variable: "9123"})
    assert getattr(settings, section).metrics_port == 9123


def test_exported_names_cover_both_services() -> None:
    names = exported_metric_names()
    assert "cartridge_actor_positions_total" in names
    assert "cartridge_trainer_loss" in names
    assert "cartridge_replay_positions_added_total" in names


def test_trainer_exports_the_ratio_gate_wait_at_scrape_time() -> None:
    metrics = TrainerMetrics("connect4")
    get = metrics.registry.get_sample_value
    assert get("cartridge_trainer_ratio_wait_seconds_total", {"game": "connect4"}) is None
    waited = [1.5]
    metrics.watch_ratio_gate(lambda: waited[0])
    assert get("cartridge_trainer_ratio_wait_seconds_total", {"game": "connect4"}) == 1.5
    waited[0] = 4.0  # read again at the next scrape, no report needed
    assert get("cartridge_trainer_ratio_wait_seconds_total", {"game": "connect4"}) == 4.0
