"""Device selection, memory layout and the autocast context; the CUDA branches run here as
pure logic (no GPU needed)."""

import contextlib

import pytest
import torch

from trainer.device import (
    DeviceUnavailableError,
    autocast,
    memory_format,
    select_device,
)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(cuda: bool, mps: bool, expected: str) -> None:
    assert select_device("auto", cuda_available=cuda, mps_available=mps).type == expected


def test_an_explicit_device_that_is_missing_is_a_clear_error() -> None:
    with pytest.raises(DeviceUnavailableError, match="cuda"):
        select_device("cuda", cuda_available=False, mps_available=True)
    with pytest.raises(DeviceUnavailableError, match="mps"):
        select_device("mps", cuda_available=True, mps_available=False)
    assert select_device("cpu", cuda_available=True, mps_available=True).type == "cpu"


def test_channels_last_on_the_cpu_only() -> None:
    assert memory_format(torch.device("cpu")) is torch.channels_last
    assert memory_format(torch.device("cuda")) is torch.contiguous_format
    assert memory_format(torch.device("mps")) is torch.contiguous_format


def test_autocast_context_matches_the_dtype() -> None:
    assert isinstance(autocast(torch.device("cpu"), None), contextlib.nullcontext)
    # CPU autocast is a real torch.autocast: the same code path CUDA takes.
    context = autocast(torch.device("cpu"), torch.bfloat16)
    assert isinstance(context, torch.autocast)
    with context:
        out = torch.nn.Linear(4, 4)(torch.ones(2, 4))
    assert out.dtype is torch.bfloat16
