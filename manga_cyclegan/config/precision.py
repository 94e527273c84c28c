"""One place that decides the numeric precision: for training (Lightning names) and for colorizing (torch dtypes)."""

from __future__ import annotations

import functools
from pathlib import Path

import torch


@functools.cache
def cpu_has_bf16_units() -> bool:
    """True when the CPU does bf16 matrix math in hardware (AMX or AVX-512 BF16); elsewhere bf16 is emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in ("amx_bf16", "avx512_bf16"))


def fast_precision(accelerator: str = "auto") -> str:
    """The fastest precision that is safe on this machine: bf16-mixed where the hardware has bf16 units
    (AMX/AVX-512 BF16 CPUs, Ampere+ GPUs), else 32. bf16 keeps fp32's range, so GANs need no loss scaling."""
    use_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if use_gpu:
        return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_has_bf16_units() else "32"


def emulated_bf16_warning(precision: str, device_type: str) -> str | None:
    """A warning for bf16 asked for on a CPU that has no bf16 units (it is emulated there: a large matmul measured
    450x slower than fp32 on an AVX2 CPU), else None."""
    if device_type != "cpu" or "bf16" not in str(precision) or cpu_has_bf16_units():
        return None
    return (f"precision {precision} on this CPU, which has no bf16 units (AMX or AVX-512 BF16): bf16 is emulated "
            f"here, hundreds of times slower than fp32. Use 32 / fp32, or precision auto.")


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto": bf16 where the hardware does bf16 math (AMX/AVX-512 BF16 CPUs, bf16 GPUs), else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_bf16_units() else "fp32"
