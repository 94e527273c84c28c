"""Small building blocks shared by the generator and the discriminator."""

from __future__ import annotations

import functools

import torch.nn as nn

NORMS = ("instance", "batch", "none")


def norm_layer(kind: str):
    """Return a constructor `f(channels) -> nn.Module` for the named normalization.

    Instance norm is the reference CycleGAN's default: no affine parameters and no running statistics, so a
    generator behaves the same on one page or a batch and its state dict holds no norm keys.
    """
    if kind == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if kind == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if kind == "none":
        return lambda channels: nn.Identity()
    raise ValueError(f"unknown norm {kind!r}: choose one of {', '.join(NORMS)}")


def uses_bias(kind: str) -> bool:
    """Batch norm has its own shift, so the preceding conv needs no bias (as in the reference)."""
    return kind != "batch"


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """Initialize as the reference does: conv weights ~ N(0, gain), biases 0, batch-norm scales ~ N(1, gain)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
