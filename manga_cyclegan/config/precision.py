"""The one precision resolver: the fastest safe precision of a device, named for training (Lightning's
"bf16-mixed", "16-mixed", "32") or for colorizing ("bf16", "fp16", "fp32")."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

LIGHTNING_NAMES = {"bf16": "bf16-mixed", "fp16": "16-mixed", "fp32": "32"}


@functools.cache
def cpu_has_bf16_units() -> bool:
    """True when the CPU does bf16 matrix math in hardware (AMX or AVX-512 BF16); elsewhere bf16 is emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in ("amx_bf16", "avx512_bf16"))


@functools.cache
def cpu_has_amx() -> bool:
    """True when the CPU has AMX tiles (Intel Sapphire Rapids and later)."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def channels_last_pays(device_type: str) -> bool:
    """Where channels-last activations were measured to be faster (benchmarks/train_step.py,
    benchmarks/inference_graphs.py; the README's Performance section): CPUs with AMX, in bf16 and fp32. On the
    AVX2 and AVX-512 BF16 CPUs measured so far, and on GPUs (not yet measured), contiguous stays."""
    return device_type == "cpu" and cpu_has_amx()


def resolve_channels_last(setting: bool | None, device_type: str) -> bool:
    """A `channels_last` setting: as given, or for None (auto) `channels_last_pays` on the device."""
    return channels_last_pays(device_type) if setting is None else bool(setting)


def fastest_precision(device_type: str) -> str:
    """bf16 where the hardware computes in it (AMX/AVX-512 BF16 CPUs, bf16 GPUs; it keeps fp32's range, so GANs
    need no loss scaling), fp16 on older GPUs, else fp32."""
    if device_type == "cuda":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_bf16_units() else "fp32"


def fast_precision(accelerator: str = "auto") -> str:
    """Training's `precision: ${fast_precision:...}` resolver: `fastest_precision` in Lightning's names."""
    use_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    return LIGHTNING_NAMES[fastest_precision("cuda" if use_gpu else "cpu")]


def resolve_precision(precision: str, device: torch.device) -> str:
    """Colorizing's `precision`: as given, or for "auto" `fastest_precision` of the device."""
    return fastest_precision(device.type) if precision == "auto" else precision


def emulated_bf16_warning(precision: str, device_type: str) -> str | None:
    """A warning for bf16 asked for on a CPU that has no bf16 units (it is emulated there, hundreds of times
    slower than fp32), else None."""
    if device_type != "cpu" or "bf16" not in str(precision) or cpu_has_bf16_units():
        return None
    return (f"precision {precision} on this CPU, which has no bf16 units (AMX or AVX-512 BF16): bf16 is emulated "
            f"here, hundreds of times slower than fp32. Use 32 / fp32, or precision auto.")
