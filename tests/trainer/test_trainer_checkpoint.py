"""The checkpoint carries the whole training state and refuses another network."""

import numpy as np
import pytest
import torch

from cartridge.config.settings import NetworkConfig
from cartridge.games import get_game
from cartridge.network import build_network
from tests.trainer.helpers import fixed_batch, synthetic_game
from trainer import checkpoint
from trainer.optimise import make_optimizer, train_step

NETWORK = NetworkConfig(kind="resnet", blocks=1, channels=8)


def trained(steps: int, layout: torch.memory_format = torch.contiguous_format,
            ) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(3)
    model = build_network(get_game("connect4"), NETWORK).to(memory_format=layout)
    optimizer = make_optimizer(model, lr=1e-3, weight_decay=1e-4)
    batch = fixed_batch("connect4", games=2, seed=0)
    for _ in range(steps):
        train_step(model, optimizer, batch, lr=1e-3, grad_clip=1.0,
                   device=torch.device("cpu"), amp_dtype=None)
    return model, optimizer


def test_round_trip_restores_model_optimiser_step_and_rngs() -> None:
    model, optimizer = trained(steps=3)
    rng = np.random.default_rng(7)
    rng.random(5)
    torch.manual_seed(11)
    data = checkpoint.to_bytes(checkpoint.capture(
        step=3, env_id="connect4", network=NETWORK.model_dump(), model=model,
        optimizer=optimizer, sampler_rng=rng))
    expected_torch, expected_numpy = torch.rand(3), rng.random(3)

    torch.manual_seed(0)
    fresh = build_network(get_game("connect4"), NETWORK)
    fresh_optimizer = make_optimizer(fresh, lr=1e-3, weight_decay=1e-4)
    fresh_rng = np.random.default_rng(0)
    step = checkpoint.restore(checkpoint.from_bytes(data), env_id="connect4",
                              network=NETWORK.model_dump(), model=fresh,
                              optimizer=fresh_optimizer, sampler_rng=fresh_rng)
    assert step == 3
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, fresh.state_dict()[name]), name
    assert fresh_optimizer.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()
    first = next(iter(optimizer.state_dict()["state"]))
    assert torch.equal(optimizer.state_dict()["state"][first]["exp_avg"],
                       fresh_optimizer.state_dict()["state"][first]["exp_avg"])
    assert torch.equal(torch.rand(3), expected_torch)
    assert np.array_equal(fresh_rng.random(3), expected_numpy)


@pytest.mark.parametrize(("saved", "resumed"), [
    (torch.contiguous_format, torch.channels_last), (torch.channels_last, torch.contiguous_format)])
def test_resuming_in_another_memory_layout_trains_on_identically(
        saved: torch.memory_format, resumed: torch.memory_format) -> None:
    """A GPU or older trainer's checkpoint resumed on a channels-last CPU trainer (and the
    reverse): fused AdamW reads moments as flat memory, so they must follow the layout."""
    model, optimizer = trained(steps=2, layout=saved)
    state = checkpoint.from_bytes(checkpoint.to_bytes(checkpoint.capture(
        step=2, env_id="connect4", network=NETWORK.model_dump(), model=model,
        optimizer=optimizer, sampler_rng=np.random.default_rng(0))))
    fresh = build_network(get_game("connect4"), NETWORK).to(memory_format=resumed)
    fresh_optimizer = make_optimizer(fresh, lr=1e-3, weight_decay=1e-4)
    checkpoint.restore(state, env_id="connect4", network=NETWORK.model_dump(), model=fresh,
                       optimizer=fresh_optimizer, sampler_rng=np.random.default_rng(0))
    batch = fixed_batch("connect4", games=2, seed=1)
    for net, opt in ((model, optimizer), (fresh, fresh_optimizer)):
        train_step(net, opt, batch, lr=1e-3, grad_clip=1.0, device=torch.device("cpu"),
                   amp_dtype=None)
    for name, tensor in model.state_dict().items():
        assert torch.allclose(tensor, fresh.state_dict()[name], atol=1e-6), name


def test_a_checkpoint_of_another_network_is_refused() -> None:
    model, optimizer = trained(steps=0)
    state = checkpoint.capture(step=0, env_id="connect4", network=NETWORK.model_dump(),
                               model=model, optimizer=optimizer,
                               sampler_rng=np.random.default_rng())
    bigger = NetworkConfig(kind="resnet", blocks=2, channels=8)
    other = build_network(get_game("connect4"), bigger)
    # names both shapes and the keys that resume the checkpoint's (e.g. after a default changed)
    with pytest.raises(checkpoint.CheckpointMismatchError,
                       match=r"'blocks': 1.*'blocks': 2.*CARTRIDGE_NETWORK_CONNECT4_\*"):
        checkpoint.restore(state, env_id="connect4", network=bigger.model_dump(), model=other,
                           optimizer=make_optimizer(other, lr=1e-3, weight_decay=0.0),
                           sampler_rng=np.random.default_rng())


def test_a_checkpoint_from_before_value_head_resumes_as_a_scalar_head() -> None:
    """Checkpoints written before [network] value_head existed record no value_head: they
    were scalar-headed, so a scalar configuration resumes them and a wdl one is refused."""
    model, optimizer = trained(steps=1)
    recorded = NETWORK.model_dump()
    del recorded["value_head"]
    state = checkpoint.capture(step=1, env_id="connect4", network=recorded, model=model,
                               optimizer=optimizer, sampler_rng=np.random.default_rng())
    fresh = build_network(get_game("connect4"), NETWORK)
    step = checkpoint.restore(state, env_id="connect4", network=NETWORK.model_dump(),
                              model=fresh, optimizer=make_optimizer(fresh, lr=1e-3,
                                                                    weight_decay=0.0),
                              sampler_rng=np.random.default_rng())
    assert step == 1
    wdl = NetworkConfig(kind="resnet", blocks=1, channels=8, value_head="wdl")
    other = build_network(get_game("connect4"), wdl)
    with pytest.raises(checkpoint.CheckpointMismatchError, match="'value_head': 'wdl'"):
        checkpoint.restore(state, env_id="connect4", network=wdl.model_dump(), model=other,
                           optimizer=make_optimizer(other, lr=1e-3, weight_decay=0.0),
                           sampler_rng=np.random.default_rng())


def test_synthetic_games_are_consistent() -> None:
    record = synthetic_game("connect4", np.random.default_rng(0))
    assert np.allclose(record.policies.sum(axis=1), 1.0)
    assert not (record.policies[~record.legal_masks] > 0).any()
    assert set(np.unique(np.abs(record.outcomes))) <= {0.0, 1.0}
