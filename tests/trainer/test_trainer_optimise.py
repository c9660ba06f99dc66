"""The loss goes down on a fixed small dataset, the loss itself is the AlphaZero one, and
a win/draw/loss value head learns what a scalar one cannot tell apart."""

import numpy as np
import pytest
import torch

from cartridge.config.settings import NetworkConfig
from cartridge.games import get_game
from cartridge.network import build_network
from cartridge.network.model import expected_value
from tests.trainer.helpers import fixed_batch
from trainer.batches import Batch
from trainer.losses import alphazero_loss, outcome_distribution
from trainer.optimise import make_optimizer, train_step


@pytest.mark.parametrize("value_head", ["scalar", "wdl"])
@pytest.mark.parametrize(("env_id", "kind"), [("connect4", "resnet"), ("tictactoe", "mlp")])
def test_loss_decreases_on_a_fixed_dataset(env_id: str, kind: str, value_head: str) -> None:
    torch.manual_seed(0)
    game = get_game(env_id)
    batch = fixed_batch(env_id, games=8, seed=1)
    model = build_network(game, NetworkConfig(kind=kind, blocks=2, channels=32,
                                              value_head=value_head))
    optimizer = make_optimizer(model, lr=3e-3, weight_decay=1e-4)
    model.train()
    losses = []
    for _ in range(60):
        policy, value = train_step(model, optimizer, batch, lr=3e-3, grad_clip=1.0,
                                   device=torch.device("cpu"), amp_dtype=None)
        losses.append(float(policy + value))
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_loss_is_cross_entropy_over_legal_moves_plus_value_mse() -> None:
    logits = torch.tensor([[0.0, 0.0, 5.0]])
    masks = torch.tensor([[True, True, False]])
    target = torch.tensor([[0.25, 0.75, 0.0]])
    policy, value = alphazero_loss(logits, torch.tensor([0.5]), target, masks,
                                   torch.tensor([-1.0]))
    # The illegal third logit is ignored: softmax over two equal logits is 1/2 each.
    assert float(policy) == pytest.approx(np.log(2.0))
    assert float(value) == pytest.approx(2.25)


def test_wdl_value_loss_is_cross_entropy_against_the_outcome_classes() -> None:
    logits = torch.zeros((3, 2))
    masks = torch.ones((3, 2), dtype=torch.bool)
    target = torch.full((3, 2), 0.5)
    wdl = torch.tensor([[2.0, 0.0, -1.0]] * 3)  # win, draw, loss logits
    log_p = torch.log_softmax(wdl[0], 0)
    for outcome, want in ((1.0, -log_p[0]), (0.0, -log_p[1]), (-1.0, -log_p[2]),
                          # A target between two results splits between their classes.
                          (-0.25, -(0.75 * log_p[1] + 0.25 * log_p[2]))):
        _, value = alphazero_loss(logits, wdl, target, masks, torch.full((3,), outcome))
        assert float(value) == pytest.approx(float(want)), outcome


def test_outcome_distribution_is_a_distribution_whose_expectation_is_the_target() -> None:
    targets = torch.tensor([-1.0, -0.6, 0.0, 0.3, 1.0])
    classes = outcome_distribution(targets)
    assert torch.all(classes >= 0)
    torch.testing.assert_close(classes.sum(dim=1), torch.ones(5))
    torch.testing.assert_close(classes[:, 0] - classes[:, 2], targets)
    torch.testing.assert_close(classes[[0, 2, 4]], torch.eye(3).flip(0))


def test_wdl_head_tells_a_drawn_position_from_a_coin_flip() -> None:
    """Two positions with the same expected result, 0: one always drawn, one won or lost
    half the time each. The scalar head can only learn 0 for both; the win/draw/loss head
    learns that one is a draw and the other is not, and still reads 0 for both."""
    torch.manual_seed(0)
    game = get_game("tictactoe")
    rng = np.random.default_rng(3)
    drawn, coin_flip = (torch.from_numpy(rng.random((1, *game.observation_shape),
                                                    dtype=np.float32)) for _ in range(2))
    observations = torch.cat([drawn.expand(8, -1, -1, -1), coin_flip.expand(8, -1, -1, -1)])
    values = torch.tensor([0.0] * 8 + [1.0, -1.0] * 4)
    batch = Batch(observations=observations,
                  legal_masks=torch.ones((16, game.num_actions), dtype=torch.bool),
                  policies=torch.full((16, game.num_actions), 1 / game.num_actions),
                  values=values)
    model = build_network(game, NetworkConfig(kind="mlp", blocks=2, channels=32,
                                              value_head="wdl"))
    optimizer = make_optimizer(model, lr=3e-3, weight_decay=0.0)
    model.train()
    for _ in range(300):
        train_step(model, optimizer, batch, lr=3e-3, grad_clip=1.0,
                   device=torch.device("cpu"), amp_dtype=None)
    with torch.no_grad():
        wdl = model.eval()(torch.cat([drawn, coin_flip]))[1]
    draw_probability = torch.softmax(wdl, dim=1)[:, 1]
    assert float(draw_probability[0]) > 0.9
    assert float(draw_probability[1]) < 0.1
    assert torch.all(expected_value(wdl).abs() < 0.1)


def test_weight_decay_skips_biases_and_norms() -> None:
    model = build_network(get_game("connect4"), NetworkConfig(kind="resnet", blocks=1, channels=8))
    decayed, plain = make_optimizer(model, lr=1e-3, weight_decay=0.5).param_groups
    assert decayed["weight_decay"] == 0.5 and plain["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decayed["params"])
    assert all(p.ndim == 1 for p in plain["params"])


@pytest.mark.parametrize("implementation", ["fused", "foreach"])
def test_fast_adamw_has_the_per_tensor_numerics(implementation: str) -> None:
    """The fused/foreach AdamW the trainer uses takes the same steps as PyTorch's
    per-tensor loop (the reference), to float32 rounding, over several real train steps."""
    game = get_game("connect4")
    batch = fixed_batch("connect4", games=4, seed=2)
    models, optimizers = [], []
    for kind in ("single_tensor", implementation):
        torch.manual_seed(0)
        model = build_network(game, NetworkConfig(kind="resnet", blocks=2, channels=16)).train()
        models.append(model)
        optimizers.append(make_optimizer(model, lr=2e-3, weight_decay=1e-2,
                                         implementation=kind))
    assert optimizers[1].defaults[implementation] is True
    initial = [p.detach().clone() for p in models[0].parameters()]
    for _ in range(5):
        for model, optimizer in zip(models, optimizers, strict=True):
            train_step(model, optimizer, batch, lr=2e-3, grad_clip=1.0,
                       device=torch.device("cpu"), amp_dtype=None)
    reference, fast = (dict(m.named_parameters()) for m in models)
    moved = max(float((p.detach() - q).abs().max())
                for p, q in zip(reference.values(), initial, strict=True))
    assert moved > 1e-3  # the steps really changed the weights
    for name, param in reference.items():
        torch.testing.assert_close(fast[name], param, rtol=1e-5, atol=1e-6, msg=name)


def test_the_trainer_uses_the_fused_adamw() -> None:
    model = build_network(get_game("tictactoe"), NetworkConfig(kind="mlp", blocks=1, channels=8))
    assert make_optimizer(model, lr=1e-3, weight_decay=0.0).defaults["fused"] is True
