"""Where training runs, whether it runs under bfloat16 autocast, and in which memory layout."""

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


def cpu_has_native_bf16() -> bool:
    """AMX or AVX512-BF16: the CPU multiplies bfloat16 in hardware. Without either, oneDNN
    emulates bf16 and autocast would make a CPU step slower, not faster. (PyTorch exposes
    these probes only as private functions of torch.cpu; missing ones mean no.)"""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def amp_dtype(device: torch.device, amp: bool, network_kind: str, *,
              cpu_bf16: bool | None = None) -> torch.dtype | None:
    """bfloat16 when enabled on CUDA, and for a convolutional network on a CPU with native
    bf16 (cpu_bf16; probed when None); None (full float32) elsewhere. A small MLP's
    products are too small on the CPU for bf16's casts to pay (bench trainer: tic-tac-toe's
    trains slower). bf16 keeps float32's exponent range, so no GradScaler is needed, and
    the weights and optimiser state stay float32."""
    if not amp:
        return None
    if device.type == "cuda":
        return torch.bfloat16
    native = cpu_has_native_bf16() if cpu_bf16 is None else cpu_bf16
    return torch.bfloat16 if device.type == "cpu" and network_kind == "resnet" and native \
        else None


def memory_format(device: torch.device) -> torch.memory_format:
    """Channels-last on the CPU, where oneDNN's convolutions work in that layout natively
    and the default layout costs a conversion each way (bench trainer). Other devices keep
    the default: their layouts have not been measured here."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
