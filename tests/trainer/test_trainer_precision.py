"""The autocast choice: which precisions are timed where, the rule that picks one, and a
real timing of a real network on this CPU (whichever precision it picks here)."""

import pytest
import torch

from cartridge.config.settings import NetworkConfig
from cartridge.games import get_game
from cartridge.network import build_network
from trainer.device import memory_format
from trainer.precision import (
    MIN_SPEEDUP,
    AutocastChoice,
    candidates,
    choose_autocast,
    faster,
)

CPU = torch.device("cpu")
MLP = NetworkConfig(kind="mlp", blocks=1, channels=16)
RESNET = NetworkConfig(kind="resnet", blocks=1, channels=8)


def test_cuda_takes_bf16_the_cpu_times_both_and_amp_off_or_mps_keep_float32() -> None:
    assert candidates(torch.device("cuda"), amp=True) == ("bfloat16",)
    assert candidates(CPU, amp=True) == ("float32", "bfloat16")
    for device in ("cuda", "cpu", "mps"):
        assert candidates(torch.device(device), amp=False) == ("float32",)
    assert candidates(torch.device("mps"), amp=True) == ("float32",)


@pytest.mark.parametrize(("bf16", "expected"), [
    (1700.0, "bfloat16"),  # AMX, Zen 4/5: 1.5-1.7x
    (1000.0 * MIN_SPEEDUP, "bfloat16"),
    (1000.0 * MIN_SPEEDUP - 1, "float32"),  # a tie is noise: keep the exact precision
    (650.0, "float32"),  # an Intel Xeon's AVX512-BF16 without AMX
])
def test_bf16_only_when_clearly_faster(bf16: float, expected: str) -> None:
    assert faster({"float32": 1000.0, "bfloat16": bf16}) == expected


def test_a_choice_without_candidates_measures_nothing() -> None:
    model = build_network(get_game("tictactoe"), MLP)
    choice = choose_autocast(model, get_game("tictactoe"), device=CPU, amp=False,
                             batch_size=8, lr=1e-3, weight_decay=1e-4, grad_clip=1.0)
    assert choice == AutocastChoice("float32", {})
    assert choice.dtype is None
    assert choice.describe() == "float32"


def test_the_cpu_times_both_on_a_copy_and_picks_by_the_rule() -> None:
    game = get_game("connect4")
    torch.manual_seed(0)
    model = build_network(game, RESNET).to(memory_format=memory_format(CPU))
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    rng_before = torch.random.get_rng_state()
    choice = choose_autocast(model, game, device=CPU, amp=True, batch_size=16, lr=1e-3,
                             weight_decay=1e-4, grad_clip=1.0)
    assert set(choice.samples_per_s) == {"float32", "bfloat16"}
    assert all(rate > 0 for rate in choice.samples_per_s.values())
    assert choice.name == faster(choice.samples_per_s)
    assert choice.dtype is (torch.bfloat16 if choice.name == "bfloat16" else None)
    assert "measured samples/s: float32 " in choice.describe()
    # The trainer's own network and random stream are as they were: the steps ran on a copy.
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert torch.equal(torch.random.get_rng_state(), rng_before)

