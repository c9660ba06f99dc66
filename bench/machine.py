"""The machine a benchmark section ran on, recorded with the section's figures.

Figures from different machines are not comparable: the curves in the README ran on
Intel CPUs with AMX and AVX-512 VNNI (bf16 training, fast int8) and on an AMD CPU with
AVX2 alone (float32 training, int8 about 1.7x instead of 3x). Each section says which.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from cartridge.threads import cpu_budget

# CPU flags that change what the hot paths run: bf16 training (amx_bf16, avx512_bf16),
# int8 inference (avx512_vnni, avx_vnni, amx_int8), the vector width (avx2, avx512f).
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16",
             "amx_int8")


def describe(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """CPUs this process may use, the CPU's model and ISA flags (Linux; "unknown"
    elsewhere), and the Python version."""
    model, flags = "unknown", None
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown":
            model = value.strip()
        elif key.strip() == "flags" and flags is None:
            present = set(value.split())
            flags = [flag for flag in ISA_FLAGS if flag in present]
    return {"cpus": cpu_budget().cpus, "cpu_model": model or platform.machine(),
            "isa_flags": flags if flags is not None else "unknown",
            "python": platform.python_version()}
