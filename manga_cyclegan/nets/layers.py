"""Small building blocks shared by the generator and the discriminator.

`InstanceNorm2d` and `ReflectionPad2d` are torch's, computed so that channels-last bf16 activations stay
channels-last bf16 from one convolution to the next: torch's own instance norm returns them contiguous, autocast
pads them in fp32, and the reflection pad's backward is slow in channels-last, and each of those costs a copy
of the activation on both sides of every convolution. Same results, same (empty) state dicts.
"""

from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

NORMS = ("instance", "batch", "none")


def is_channels_last(x: torch.Tensor) -> bool:
    """True for a 4-d tensor laid out channels-last (one that is also contiguous, e.g. one channel, is not)."""
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


class InstanceNorm2d(nn.InstanceNorm2d):
    """nn.InstanceNorm2d; without affine parameters or running statistics, a channels-last input is normalized
    page by page as a batch of one (batch norm's statistics are then the page's own), which keeps its layout."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.affine or self.track_running_stats or not is_channels_last(x):
            return super().forward(x)
        pages = [F.batch_norm(page, None, None, training=True, eps=self.eps) for page in x.split(1)]
        return pages[0] if len(pages) == 1 else torch.cat(pages)


class _ReflectionPad(torch.autograd.Function):
    """F.pad(mode="reflect") with a backward that keeps channels-last gradients channels-last."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: int) -> torch.Tensor:
        ctx.p = p
        return F.pad(x, (p, p, p, p), mode="reflect")

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        p = ctx.p
        # Each padded pixel copies the pixel mirrored inside the border: add its gradient there, columns first,
        # then rows (so the corners reach the pixel they copy twice removed).
        cols = grad[:, :, :, p:-p].clone(memory_format=torch.preserve_format)
        cols[:, :, :, 1:p + 1] += grad[:, :, :, :p].flip(3)
        cols[:, :, :, -p - 1:-1] += grad[:, :, :, -p:].flip(3)
        rows = cols[:, :, p:-p].clone(memory_format=torch.preserve_format)
        rows[:, :, 1:p + 1] += cols[:, :, :p].flip(2)
        rows[:, :, -p - 1:-1] += cols[:, :, -p:].flip(2)
        return rows, None


class ReflectionPad2d(nn.ReflectionPad2d):
    """nn.ReflectionPad2d with the same padding on every side. Padding copies values, so it runs in the input's
    dtype: CPU autocast would make bf16 activations fp32 here and the next convolution bf16 again."""

    def __init__(self, padding: int):
        super().__init__(padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.padding[0]
        with torch.autocast(x.device.type, enabled=False):
            if x.requires_grad and torch.is_grad_enabled() and is_channels_last(x):
                return _ReflectionPad.apply(x, p)
            return F.pad(x, (p, p, p, p), mode="reflect")


def norm_layer(kind: str):
    """Return a constructor `f(channels) -> nn.Module` for the named normalization.

    Instance norm is the reference CycleGAN's default: no affine parameters and no running statistics, so a
    generator behaves the same on one page or a batch and its state dict holds no norm keys.
    """
    if kind == "instance":
        return functools.partial(InstanceNorm2d, affine=False, track_running_stats=False)
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
