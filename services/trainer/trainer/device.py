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


def cpu_bf16_instructions() -> str | None:
    """Which bfloat16 multiply the CPU has in hardware: "amx" (tile units), "avx512_bf16"
    (vector dot products) or None (oneDNN emulates bf16). (PyTorch exposes these probes
    only as private functions of torch.cpu; a missing one means no.)"""
    for kind, probe in (("amx", "_is_amx_tile_supported"),
                        ("avx512_bf16", "_is_avx512_bf16_supported")):
        if getattr(torch.cpu, probe, lambda: False)():
            return kind
    return None


def amp_dtype(device: torch.device, amp: bool, network_kind: str, *,
              cpu_amx: bool | None = None) -> torch.dtype | None:
    """bfloat16 when enabled on CUDA, and for a convolutional network on a CPU with AMX
    (cpu_amx; probed when None); None (full float32) elsewhere. bench trainer: on AMX the
    ResNet trains 1.7x float32's samples/s; with AVX512-BF16 alone 0.65-0.7x (oneDNN's
    bf16 convolutions there lose to its float32 AVX-512 ones), and emulated bf16 is slower
    still. A small MLP's products are too small on the CPU for bf16's casts to pay
    (tic-tac-toe's trains slower). bf16 keeps float32's exponent range, so no GradScaler
    is needed, and the weights and optimiser state stay float32."""
    if not amp:
        return None
    if device.type == "cuda":
        return torch.bfloat16
    amx = cpu_bf16_instructions() == "amx" if cpu_amx is None else cpu_amx
    return torch.bfloat16 if device.type == "cpu" and network_kind == "resnet" and amx \
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
