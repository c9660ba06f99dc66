"""build_network: shapes, value range, training signal, channels_last and autocast."""

from __future__ import annotations

import pytest
import torch

from cartridge.config.settings import NetworkConfig
from cartridge.games import GAME_IDS, get_game
from cartridge.network import build_network
from cartridge.network.model import expected_value

CONFIGS = [
    NetworkConfig(kind="resnet", blocks=2, channels=16),
    NetworkConfig(kind="mlp", blocks=2, channels=32),
    NetworkConfig(kind="resnet", blocks=2, channels=16, value_head="wdl"),
    NetworkConfig(kind="mlp", blocks=2, channels=32, value_head="wdl"),
]


def config_id(config: NetworkConfig) -> str:
    return f"{config.kind}-{config.value_head}"


@pytest.fixture(autouse=True)
def seeded_torch() -> None:
    """Weights and targets from a fixed seed: thresholds such as "close to uniform" hold
    for the same draw every run, whatever ran before in the process."""
    torch.manual_seed(0)


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
@pytest.mark.parametrize("game_id", GAME_IDS)
def test_shapes_and_value_range(game_id, config, random_positions):
    game = get_game(game_id)
    model = build_network(game, config)
    obs, _ = random_positions(game, 9)
    for training in (True, False):
        model.train(training)
        logits, value_output = model(torch.from_numpy(obs))
        assert logits.shape == (9, game.num_actions)
        assert value_output.shape == ((9,) if config.value_head == "scalar" else (9, 3))
        assert logits.dtype == value_output.dtype == torch.float32
        assert torch.all(expected_value(value_output).abs() <= 1)


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_fresh_network_is_close_to_uniform(config, random_positions):
    game = get_game("connect4")
    model = build_network(game, config).eval()
    obs, _ = random_positions(game, 16)
    with torch.no_grad():
        logits, value_output = model(torch.from_numpy(obs))
    assert torch.softmax(logits, 1).sub(1 / game.num_actions).abs().max() < 0.02
    assert expected_value(value_output).abs().max() < 0.1


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_every_parameter_gets_a_gradient(config, random_positions):
    game = get_game("othello")
    model = build_network(game, config).train()
    obs, _ = random_positions(game, 8)
    target = torch.softmax(torch.randn(8, game.num_actions), 1)
    # Two steps: zero-initialised BN scales only pass gradient on once they move.
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):
        optimiser.zero_grad()
        logits, value_output = model(torch.from_numpy(obs))
        loss = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
        loss = loss + (expected_value(value_output) - 0.5).pow(2).mean()
        loss.backward()
        optimiser.step()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


def test_layer_counts_follow_config():
    game = get_game("connect4")
    resnet = build_network(game, NetworkConfig(kind="resnet", blocks=3, channels=24))
    convs = [m for m in resnet.modules() if isinstance(m, torch.nn.Conv2d)]
    # stem + 2 per block + policy and value 1x1 convs
    assert len(convs) == 1 + 2 * 3 + 2
    assert convs[0].out_channels == 24
    mlp = build_network(get_game("tictactoe"), NetworkConfig(kind="mlp", blocks=3, channels=40))
    linears = [m for m in mlp.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3 + 2
    assert all(m.out_features == 40 for m in linears[:3])


def test_channels_last_gives_the_same_outputs(random_positions):
    game = get_game("othello")
    model = build_network(game, NetworkConfig(kind="resnet", blocks=2, channels=16)).eval()
    obs = torch.from_numpy(random_positions(game, 5)[0])
    with torch.no_grad():
        expected = model(obs)
        model = model.to(memory_format=torch.channels_last)
        got = model(obs.contiguous(memory_format=torch.channels_last))
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)


def test_bfloat16_autocast_returns_float32(random_positions):
    # CPU stands in for the trainer's CUDA autocast (not available here).
    game = get_game("connect4")
    model = build_network(game, NetworkConfig(kind="resnet", blocks=2, channels=16)).train()
    obs = torch.from_numpy(random_positions(game, 4)[0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, value = model(obs)
    assert logits.dtype == value.dtype == torch.float32
    (logits.sum() + value.sum()).backward()
