"""[training] ema_decay: the trainer publishes a moving average of its weights, which
sits nearer the optimum than the noisy weights of the step, and a restarted trainer
carries the average on."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from cartridge.config.settings import NetworkConfig
from cartridge.games import get_game
from cartridge.modelstore.filesystem import FilesystemModelStore
from cartridge.network import build_network
from tests.trainer.helpers import fill_replay, synthetic_game, write_config
from trainer import checkpoint
from trainer.averaging import WeightAverage
from trainer.cli import load
from trainer.loop import train
from trainer.optimise import make_optimizer
from trainer.wiring import trainer_inputs

ENV = "tictactoe"


def small_net() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_each_update_moves_the_average_by_one_minus_the_decay() -> None:
    model = small_net()
    average = WeightAverage(model, decay=0.9)
    start = {k: v.clone() for k, v in average.module.state_dict().items()}
    expected = start
    for updates in (1, 2, 3, 100):  # the warm-up reaches 0.9 at the 81st
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter))
        model.train()(torch.randn(8, 3))  # moves the batch-norm statistics and counter
        while average.updates < updates:
            average.update()
            n = average.updates
            decay = min(0.9, (1 + n) / (10 + n))  # the warm-up: 2/11, 3/12, 4/13, ...
            current = model.state_dict()
            expected = {k: v + (1 - decay) * (current[k] - v) if v.is_floating_point()
                        else current[k].clone() for k, v in expected.items()}
    for name, value in average.module.state_dict().items():
        torch.testing.assert_close(value, expected[name], msg=name)
    assert not torch.equal(average.module[0].weight, model[0].weight)
    assert average.module.state_dict()["1.num_batches_tracked"] == 4
    assert min(0.9, (1 + 100) / (10 + 100)) == 0.9


def test_the_average_of_noisy_steps_lies_nearer_the_optimum_than_the_last_step() -> None:
    # SGD on |w|^2 with noisy gradients: the weights wander around the optimum (0) at a
    # distance the learning rate sets; their average wanders far less (in theory, for
    # these figures, about 0.3 of the distance).
    torch.manual_seed(0)
    model = nn.Linear(16, 16, bias=False)
    average = WeightAverage(model, decay=0.99)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    raw, averaged = [], []
    for step in range(2000):
        optimizer.zero_grad()
        (0.5 * model.weight.pow(2).sum()).backward()
        model.weight.grad.add_(torch.randn_like(model.weight))
        optimizer.step()
        average.update()
        if step >= 1000:
            raw.append(model.weight.norm().item())
            averaged.append(average.module.weight.norm().item())
    assert np.mean(averaged) < 0.5 * np.mean(raw)


def test_a_checkpoint_carries_the_average_and_one_without_starts_it_over() -> None:
    # Connect Four's ResNet, channels-last as the CPU trainer holds it.
    game = get_game("connect4")
    network = NetworkConfig(kind="resnet", blocks=1, channels=8)

    def built() -> nn.Module:
        return build_network(game, network).to(memory_format=torch.channels_last)

    model = built()
    optimizer = make_optimizer(model, lr=1e-3, weight_decay=0.0)
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    for _ in range(3):
        average.update()

    def restored(average_in_checkpoint: WeightAverage | None) -> tuple[nn.Module, WeightAverage]:
        state = checkpoint.from_bytes(checkpoint.to_bytes(checkpoint.capture(
            step=3, env_id=game.id, network=network.model_dump(), model=model,
            optimizer=optimizer, sampler_rng=np.random.default_rng(0),
            average=average_in_checkpoint)))
        fresh = built()
        fresh_average = WeightAverage(fresh, decay=0.5)
        assert checkpoint.restore(state, env_id=game.id, network=network.model_dump(),
                                  model=fresh,
                                  optimizer=make_optimizer(fresh, lr=1e-3, weight_decay=0.0),
                                  sampler_rng=np.random.default_rng(),
                                  average=fresh_average) == 3
        return fresh, fresh_average

    fresh, carried = restored(average)
    assert carried.updates == 3
    for name, value in carried.module.state_dict().items():
        torch.testing.assert_close(value, average.module.state_dict()[name], msg=name)
    # ...and goes on following the restored model, by the 4th update's decay.
    with torch.no_grad():
        for parameter in fresh.parameters():
            parameter.add_(1.0)
    expected = {k: v + (1 - min(0.5, 5 / 14)) * (fresh.state_dict()[k] - v)
                for k, v in carried.module.state_dict().items() if v.is_floating_point()}
    carried.update()
    for name, value in expected.items():
        torch.testing.assert_close(carried.module.state_dict()[name], value, msg=name)

    fresh, started_over = restored(None)
    assert started_over.updates == 0
    for name, value in started_over.module.state_dict().items():
        torch.testing.assert_close(value, fresh.state_dict()[name], msg=name)


def test_a_checkpoint_without_an_average_is_written_as_before_ema_decay() -> None:
    # Format 1 and no "average" key: what trainers from before ema_decay read.
    game = get_game(ENV)
    network = NetworkConfig(kind="mlp", blocks=1, channels=8)
    model = build_network(game, network)
    data = checkpoint.to_bytes(checkpoint.capture(
        step=1, env_id=ENV, network=network.model_dump(), model=model,
        optimizer=make_optimizer(model, lr=1e-3, weight_decay=0.0),
        sampler_rng=np.random.default_rng(0)))
    raw = torch.load(io.BytesIO(data), weights_only=True)
    assert raw["format"] == 1 and "average" not in raw
    assert checkpoint.from_bytes(data).average is None


def train_to(tmp_path: Path, ema_decay: float, steps: int) -> tuple[
        np.ndarray, checkpoint.TrainingCheckpoint, np.ndarray]:
    """(the latest published model's logits, its checkpoint, the positions) after a
    trainer with `ema_decay` ran to `steps` (resuming from the store's last checkpoint)."""
    # No warm-up of the learning rate: 20 steps move the weights away from their average.
    config = write_config(tmp_path / "config.toml", batch_size=32, min_positions=40,
                          device="cpu", checkpoint_interval=20, seed=3, ema_decay=ema_decay,
                          amp=False, warmup_steps=0)
    db = tmp_path / "replay.db"
    if not db.exists():
        fill_replay(db, ENV, games=40, seed=1)
    settings = load(["--config", str(config), "--env", ENV, "--db", str(db),
                     "--model-dir", str(tmp_path / "models"),
                     "--stats", str(tmp_path / "stats.json"), "--steps", str(steps)])
    assert train(trainer_inputs(settings), threading.Event()) == steps
    store = FilesystemModelStore(tmp_path / "models", ENV)
    latest = store.latest()
    assert latest is not None and latest.step == steps
    observations = synthetic_game(ENV, np.random.default_rng(5)).observations
    session = ort.InferenceSession(store.load_onnx(latest.version))
    logits, _ = session.run(None, {"observations": observations})
    return logits, checkpoint.from_bytes(store.load_checkpoint(latest.version)), observations


def logits_of(state: checkpoint.TrainingCheckpoint, weights: dict[str, torch.Tensor],
              observations: np.ndarray) -> np.ndarray:
    network = build_network(get_game(ENV), NetworkConfig(**state.network))
    network.load_state_dict(weights)
    with torch.no_grad():
        return network.eval()(torch.from_numpy(observations))[0].numpy()


def test_without_ema_decay_the_trainer_publishes_the_weights_of_the_step(
        tmp_path: Path) -> None:
    logits, state, observations = train_to(tmp_path, ema_decay=0.0, steps=20)
    assert state.average is None
    np.testing.assert_allclose(logits, logits_of(state, state.model, observations), atol=1e-4)


def test_with_ema_decay_the_trainer_publishes_the_average_and_a_restart_carries_it_on(
        tmp_path: Path) -> None:
    logits, state, observations = train_to(tmp_path, ema_decay=0.9, steps=20)
    assert state.average is not None and state.average["updates"] == 20
    np.testing.assert_allclose(logits, logits_of(state, state.average["weights"], observations),
                               atol=1e-4)
    assert np.abs(logits - logits_of(state, state.model, observations)).max() > 1e-3

    # A second trainer resumes from step 20's checkpoint: the same average, 20 updates on.
    later, resumed, _ = train_to(tmp_path, ema_decay=0.9, steps=40)
    assert resumed.average is not None and resumed.average["updates"] == 40
    np.testing.assert_allclose(later, logits_of(resumed, resumed.average["weights"],
                                                observations), atol=1e-4)
    assert np.abs(later - logits).max() > 1e-3  # it followed the training, not frozen
