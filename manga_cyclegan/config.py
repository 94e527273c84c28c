"""OmegaConf resolvers used by conf/, registered once on import."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from omegaconf import OmegaConf


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


def register_resolvers() -> None:
    resolvers = {"add": lambda *xs: sum(xs), "fast_precision": fast_precision}
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register_resolvers()
