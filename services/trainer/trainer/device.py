"""Where training runs, in which memory layout, and the autocast context (the precision
itself is chosen by trainer.precision)."""

from __future__ import annotations

import contextlib
from typing import Literal

import torch

DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]


class DeviceUnavailableError(RuntimeError):
    """The configured device is not present on this machine."""


def select_device(
    requested: DeviceChoice, *, cuda_available: bool, mps_available: bool
) -> torch.device:
    """auto prefers cuda (ROCm builds of PyTorch also report as cuda), then mps, then cpu."""
    if requested == "auto":
        if cuda_available:
            return torch.device("cuda")
        return torch.device("mps" if mps_available else "cpu")
    if requested == "cuda" and not cuda_available:
        raise DeviceUnavailableError("training.device = 'cuda' but no CUDA/ROCm device is present")
    if requested == "mps" and not mps_available:
        raise DeviceUnavailableError("training.device = 'mps' but MPS is not available")
    return torch.device(requested)


def detect_device(requested: DeviceChoice) -> torch.device:
    return select_device(
        requested,
        cuda_available=torch.cuda.is_available(),
        mps_available=torch.backends.mps.is_available(),
    )


def memory_format(device: torch.device) -> torch.memory_format:
    """Channels-last on the CPU, where oneDNN's convolutions work in that layout natively
    and the default layout costs a conversion each way (bench trainer). Other devices keep
    the default: their layouts have not been measured here."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
