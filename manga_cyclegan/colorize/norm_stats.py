"""The statistics a generator's instance norms take from the image itself, measured apart from the forward.

Instance norm normalizes each image with its own per-channel mean and variance. A generator run piece by piece
(tiles, strips) must normalize every piece with the statistics of the whole image, or each piece shifts its
colors and leaves seams. This module finds those norm layers (`image_norms`), records their statistics on a whole
input (`record_statistics`: the reference the tests and benchmarks/tiling.py compare with), measures them over the
pieces of one piecewise pass (`gather_statistics`, layer by layer in `layerwise_statistics`), and makes the layers
normalize with given statistics (`fixed_statistics`). Where the pieces are is `manga_cyclegan.colorize.tiling`'s
business.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import torch
from torch import nn

# (mean, biased variance) of a norm layer's input, each [N, C] float32: what InstanceNorm2d computes per image.
NormStatistics = dict[nn.Module, tuple[torch.Tensor, torch.Tensor]]
# (y0, y1, x0, x1): the part of a piece, in its own input pixels, whose statistics count (the pieces' cores
# partition the image, so every position counts once).
Core = tuple[int, int, int, int]


class _StopForward(Exception):
    """Raised inside a norm layer to end a forward pass once the statistics it was run for are gathered."""


def image_norms(generator: nn.Module) -> list[nn.Module]:
    """The norm layers that normalize with the statistics of the image itself, in module order.

    Instance norm without running statistics (this project's default) does; batch norm in eval mode and instance
    norm with running statistics in eval mode use stored statistics and tile exactly as they are. Batch norm in
    training mode normalizes with batch statistics, which a tile cannot reproduce: refused.
    """
    norms = []
    for m in generator.modules():
        if isinstance(m, nn.modules.instancenorm._InstanceNorm) and (m.training or not m.track_running_stats):
            norms.append(m)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training:
            raise ValueError("tiling needs the generator in eval mode: batch norm in training mode uses batch statistics")
    return norms


def _per_image_var_mean(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    var, mean = torch.var_mean(x.float(), dim=(2, 3), correction=0)
    return var, mean


@torch.no_grad()
def record_statistics(generator: nn.Module, x: torch.Tensor) -> NormStatistics:
    """Run `generator(x)` once and keep every image-statistics norm layer's input mean and variance."""
    stats: NormStatistics = {}

    def hook(module: nn.Module, args: tuple) -> None:
        var, mean = _per_image_var_mean(args[0])
        stats[module] = (mean, var)

    handles = [m.register_forward_pre_hook(hook) for m in image_norms(generator)]
    try:
        generator(x)
    finally:
        for h in handles:
            h.remove()
    return stats


@dataclass
class _Accumulator:
    """Per-channel mean and variance of norm inputs over tile cores, merged across tiles (Chan et al.) in float64.

    `core` is the current tile's core (y0, y1, x0, x1) in input pixels relative to the tile; a layer at r times the
    tile's resolution sees it multiplied by r (r = 1/2, 1/4 below stride-2 layers, whose tile origins and core edges
    are multiples of 1/r, so this is exact; r = 2, 4 after upsampling layers).
    """

    tile_size: tuple[int, int] = (0, 0)
    core: Core = (0, 0, 0, 0)
    stop_after: nn.Module | None = None
    count: dict[nn.Module, int] = field(default_factory=dict)
    mean: dict[nn.Module, torch.Tensor] = field(default_factory=dict)
    m2: dict[nn.Module, torch.Tensor] = field(default_factory=dict)

    def add(self, module: nn.Module, x: torch.Tensor) -> None:
        if self.stop_after is not None and module is not self.stop_after:
            return  # a partial pass measures only the layer it stops at
        rh, rw = Fraction(x.shape[-2], self.tile_size[0]), Fraction(x.shape[-1], self.tile_size[1])
        y0, y1, x0, x1 = (v * r for v, r in zip(self.core, (rh, rh, rw, rw)))
        if any(v.denominator != 1 for v in (y0, y1, x0, x1)):
            raise ValueError(f"norm input {tuple(x.shape[-2:])} does not resample the tile {self.tile_size} onto "
                             f"whole pixels of its core {self.core}: tile edges must be multiples of the layers' strides")
        core = x[..., int(y0) : int(y1), int(x0) : int(x1)]
        n = core.shape[-2] * core.shape[-1]
        var, mean = _per_image_var_mean(core)
        mean, m2 = mean.double(), var.double() * n
        if module not in self.count:
            self.count[module], self.mean[module], self.m2[module] = n, mean, m2
        else:
            n_a, total = self.count[module], self.count[module] + n
            delta = mean - self.mean[module]
            self.mean[module] = self.mean[module] + delta * (n / total)
            self.m2[module] = self.m2[module] + m2 + delta * delta * (n_a * n / total)
            self.count[module] = total
        if module is self.stop_after:
            raise _StopForward

    def statistics(self) -> NormStatistics:
        return {m: (self.mean[m].float(), (self.m2[m] / self.count[m]).float()) for m in self.count}


@contextlib.contextmanager
def fixed_statistics(
    generator: nn.Module, stats: NormStatistics, accumulator: _Accumulator | None = None
) -> Iterator[nn.Module]:
    """Within the block, every image-statistics norm layer in `stats` normalizes with them, not its input's own.

    y = (x - mean) / sqrt(var + eps) (then the affine scale and shift if the layer has them), computed in float32
    and returned in the input's dtype as InstanceNorm2d does under autocast. Layers missing from `stats` keep
    normalizing with their input's own statistics. An `accumulator` sees every layer's input. The layers' own
    forward comes back on exit, exceptions included.
    """

    def patched_forward(module: nn.Module):
        own_forward = module.forward
        if module in stats:
            mean, var = stats[module]
            shift, scale = mean[..., None, None], torch.rsqrt(var + module.eps)[..., None, None]

        def forward(x: torch.Tensor) -> torch.Tensor:
            if accumulator is not None:
                accumulator.add(module, x)
            if module not in stats:
                return own_forward(x)
            y = (x.float() - shift).mul_(scale)
            if module.affine:
                y = y.mul_(module.weight.float()[:, None, None]).add_(module.bias.float()[:, None, None])
            return y.to(x.dtype)

        return forward

    patched = []
    try:
        for m in image_norms(generator):
            if m in stats or accumulator is not None:
                patched.append((m, m.__dict__.get("forward")))
                m.forward = patched_forward(m)
        yield generator
    finally:
        for m, own in patched:
            if own is None:
                del m.forward
            else:
                m.forward = own


@torch.no_grad()
def gather_statistics(
    generator: nn.Module,
    pieces: Sequence[tuple[torch.Tensor, Core]],
    stats: NormStatistics,
    stop_after: nn.Module | None = None,
) -> NormStatistics:
    """One pass over the `pieces` (input crops, all of one size, each with its core) with the norm layers in
    `stats` fixed to them, measuring every norm layer's input over the cores.

    A layer gets the statistics a forward of the whole image would give it if every layer before it used `stats`
    (layers missing from `stats` normalize each piece with its own). With `stop_after`, each piece stops after that
    layer: a cheaper pass.
    """
    acc = _Accumulator(stop_after=stop_after)
    with fixed_statistics(generator, stats, acc):
        for crop, core in pieces:
            acc.tile_size, acc.core = tuple(crop.shape[-2:]), core
            with contextlib.suppress(_StopForward):
                generator(crop)
    return acc.statistics()


@torch.no_grad()
def layerwise_statistics(generator: nn.Module, pieces: Sequence[tuple[torch.Tensor, Core]]) -> NormStatistics:
    """The statistics of the whole image's forward (up to the halo's effect on the cores), one partial pass over the
    pieces per norm layer: layer k is measured with layers < k already fixed, and each piece stops after layer k."""
    stats: NormStatistics = {}
    for layer in image_norms(generator):
        stats[layer] = gather_statistics(generator, pieces, stats, stop_after=layer)[layer]
    return stats
