"""Run a generator on pages larger than memory allows: overlapping tiles, no seams, memory bounded by the tile.

Two things make a tiled forward differ from the plain one, and each is handled:

- Instance norm normalizes with the statistics of the whole image. A tile normalizing with its own would shift
  its colors and leave seams, so the page's statistics are measured first, tile by tile (`tiled_statistics`:
  "exact" gives the untiled forward's statistics, one partial tiled pass per norm layer), and every tile then
  normalizes with them (`fixed_statistics`).
- Convolutions near a tile's cut edge see padding instead of page. Tiles overlap, and with the default "crop"
  blend each output pixel comes from the one tile whose core holds it, at least overlap/2 pixels from any cut:
  beyond that the generator's effective receptive field has died out (benchmarks/tiling.py measures it).

With both, a tiled page matches the untiled forward to rounding (tests/test_tiling.py), while memory is that of
one tile's activations, whatever the page size.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

from manga_cyclegan.nets.padding import SIZE_MULTIPLE, pad_to_multiple

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 128
BLENDS = ("crop", "linear", "cosine")
METHODS = ("exact", "pooled", "downscaled", "tile")
# (mean, biased variance) of a norm layer's input, each [N, C] float32: what InstanceNorm2d computes per image.
NormStatistics = dict[nn.Module, tuple[torch.Tensor, torch.Tensor]]
# A tile's side, or (rows, columns) for rectangular tiles such as full-width strips.
TileShape = int | tuple[int, int]


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


def downscale_to(x: torch.Tensor, max_pixels: int) -> torch.Tensor:
    """Area-shrink `x` so that H*W <= max_pixels (screentone averages to its tone); unchanged if it fits."""
    h, w = x.shape[-2:]
    if h * w <= max_pixels:
        return x
    scale = math.sqrt(max_pixels / (h * w))
    size = (max(1, math.floor(h * scale)), max(1, math.floor(w * scale)))
    return F.interpolate(x.float(), size=size, mode="area").to(x.dtype)


def downscaled_statistics(generator: nn.Module, x: torch.Tensor, max_pixels: int) -> NormStatistics:
    """Norm statistics of the whole page shrunk to at most `max_pixels`: one pass, one tile's worth of memory."""
    return record_statistics(generator, downscale_to(x, max_pixels))


@dataclass
class _Accumulator:
    """Per-channel mean and variance of norm inputs over tile cores, merged across tiles (Chan et al.) in float64.

    `core` is the current tile's core (y0, y1, x0, x1) in input pixels relative to the tile; a layer at r times the
    tile's resolution sees it multiplied by r (r = 1/2, 1/4 below stride-2 layers, whose tile origins and core edges
    are multiples of 1/r, so this is exact; r = 2, 4 after upsampling layers).
    """

    tile_size: tuple[int, int] = (0, 0)
    core: tuple[int, int, int, int] = (0, 0, 0, 0)
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


@dataclass(frozen=True)
class TileAxis:
    """Tiles along one axis of the padded page: starts, cores (a partition of the page) and blend weights."""

    length: int
    size: int
    starts: tuple[int, ...]
    bounds: tuple[int, ...]  # core of tile i: [bounds[i], bounds[i + 1])

    @classmethod
    def split(cls, length: int, tile: int, overlap: int, multiple: int = SIZE_MULTIPLE) -> TileAxis:
        """Tiles of `tile` pixels (a multiple of `multiple`), at least `overlap` shared between neighbours, spread
        evenly.

        Starts are multiples of `multiple` (4 for the generator: its stride-2 layers then sample the page's own grid
        in every tile); a core edge is the middle of an overlap, rounded to a multiple of it, so each tile keeps at
        least overlap/2 - multiple/2 pixels of context on the inner sides.
        """
        size = min(tile, length)
        if length <= size:
            return cls(length, length, (0,), (0, length))
        n = 1 + math.ceil((length - size) / (size - overlap))
        starts = sorted({_round_to(multiple, (length - size) * i / (n - 1)) for i in range(n)})
        middles = [_round_to(multiple, (a + size + b) / 2) for a, b in itertools.pairwise(starts)]
        return cls(length, size, tuple(starts), (0, *middles, length))

    def weights(self, i: int, blend: str) -> torch.Tensor:
        """1-D blend weight of tile i over its `size` pixels (before normalization by the sum over tiles)."""
        w = torch.ones(self.size, dtype=torch.float64)
        if blend == "crop":
            w.zero_()
            w[self.bounds[i] - self.starts[i] : self.bounds[i + 1] - self.starts[i]] = 1
            return w
        start = self.starts[i]
        if i > 0:  # ramp up over the overlap with the previous tile
            a = self.starts[i - 1] + self.size - start
            w[:a] *= _ramp(a, blend)
        if i + 1 < len(self.starts):  # ramp down over the overlap with the next tile
            b = start + self.size - self.starts[i + 1]
            w[self.size - b :] *= _ramp(b, blend).flip(0)
        return w

    def weight_sum(self, blend: str) -> torch.Tensor:
        total = torch.zeros(self.length, dtype=torch.float64)
        for i, s in enumerate(self.starts):
            total[s : s + self.size] += self.weights(i, blend)
        return total


def tile_axes(
    padded: torch.Tensor, tile: TileShape, overlap: int, multiple: int = SIZE_MULTIPLE
) -> tuple[TileAxis, TileAxis]:
    """The tiles of a padded page along its rows and its columns."""
    tile_rows, tile_cols = _tile_shape(tile)
    return (TileAxis.split(padded.shape[-2], tile_rows, overlap, multiple),
            TileAxis.split(padded.shape[-1], tile_cols, overlap, multiple))


def _tile_shape(tile: TileShape) -> tuple[int, int]:
    return (tile, tile) if isinstance(tile, int) else tuple(tile)


def _round_to(multiple: int, value: float) -> int:
    return round(value / multiple) * multiple


def _ramp(n: int, blend: str) -> torch.Tensor:
    """Rising weights over n pixels, sampled at pixel centres: r(t) + r(n - 1 - t) = 1 for both shapes."""
    t = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return t if blend == "linear" else 0.5 - 0.5 * torch.cos(math.pi * t)


def _tiles(rows: TileAxis, cols: TileAxis) -> Iterator[tuple[int, int]]:
    for i in range(len(rows.starts)):
        for j in range(len(cols.starts)):
            yield i, j


@torch.no_grad()
def gather_statistics(
    generator: nn.Module,
    padded: torch.Tensor,
    rows: TileAxis,
    cols: TileAxis,
    stats: NormStatistics,
    stop_after: nn.Module | None = None,
) -> NormStatistics:
    """One tiled pass with the norm layers in `stats` fixed to them, measuring every norm layer's input.

    Each page position counts once (tile cores partition the padded page). A layer gets the statistics an untiled
    forward would give it if every layer before it used `stats` (layers missing from `stats` normalize each tile
    with its own). With `stop_after`, each tile stops after that layer: a cheaper pass.
    """
    acc = _Accumulator(tile_size=(rows.size, cols.size), stop_after=stop_after)
    with fixed_statistics(generator, stats, acc):
        for i, j in _tiles(rows, cols):
            y0, x0 = rows.starts[i], cols.starts[j]
            acc.core = (rows.bounds[i] - y0, rows.bounds[i + 1] - y0, cols.bounds[j] - x0, cols.bounds[j + 1] - x0)
            with contextlib.suppress(_StopForward):
                generator(padded[..., y0 : y0 + rows.size, x0 : x0 + cols.size])
    return acc.statistics()


@torch.no_grad()
def tiled_statistics(
    generator: nn.Module,
    x: torch.Tensor,
    tile: TileShape = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    method: str = "exact",
    multiple: int = SIZE_MULTIPLE,
) -> NormStatistics:
    """Norm statistics of the full-resolution page for a tiled run, without full-resolution activations.

    - "exact": the statistics of the untiled forward (up to the halo's effect on the cores), one partial tiled pass
      per norm layer: layer k is measured with layers < k already exact, and each tile stops after layer k.
    - "pooled": one tiled pass in which each tile normalizes with its own statistics while every layer's input is
      measured over the whole page. Shared by all tiles, so seamless, but not the untiled output.
    - "downscaled": one untiled pass on the page shrunk to a tile's area. Cheapest, and furthest off.
    - "tile": none; each tile normalizes with its own statistics (naive: seams).
    `multiple`: tile origins are multiples of it (the product of the generator's strides), see `generate_tiled`.
    """
    if method not in METHODS:
        raise ValueError(f"unknown statistics method {method!r}: choose one of {', '.join(METHODS)}")
    norms = image_norms(generator)
    if not norms or method == "tile":
        return {}
    if method == "downscaled":
        return downscaled_statistics(generator, x, math.prod(_tile_shape(tile)))
    padded = pad_to_multiple(x, multiple)
    rows, cols = tile_axes(padded, tile, overlap, multiple)
    if method == "pooled":
        return gather_statistics(generator, padded, rows, cols, {})
    stats: NormStatistics = {}
    for layer in norms:
        stats[layer] = gather_statistics(generator, padded, rows, cols, stats, stop_after=layer)[layer]
    return stats


def _check(x: torch.Tensor, tile: TileShape, overlap: int, blend: str, scale: Fraction, multiple: int) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected an N x C x H x W page batch, got shape {tuple(x.shape)}")
    for side in _tile_shape(tile):
        if side < 2 * multiple or side % multiple:
            raise ValueError(f"tile sides must be multiples of {multiple} and >= {2 * multiple}, got {tile}")
        if not 0 <= overlap <= side // 2:
            raise ValueError(f"overlap must be in [0, tile/2 = {side // 2}], got {overlap}")
    if blend not in BLENDS:
        raise ValueError(f"unknown blend {blend!r}: choose one of {', '.join(BLENDS)}")
    if blend != "crop" and scale != 1:
        raise ValueError("feathered blends need a generator whose output has its input's size; use blend='crop'")
    if (multiple * scale).denominator != 1:
        raise ValueError(f"a generator that shrinks its input {1 / scale}-fold needs tile origins at multiples of "
                         f"{1 / scale}, got multiple={multiple}")


@torch.no_grad()
def generate_tiled(
    generator: nn.Module,
    x: torch.Tensor,
    tile: TileShape = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    *,
    blend: str = "crop",
    statistics: str = "exact",
    stats: NormStatistics | None = None,
    scale: Fraction | int = 1,
    multiple: int = SIZE_MULTIPLE,
) -> torch.Tensor:
    """`generator(x)` computed tile by tile: N x C x H x W in, N x C_out x H x W float32 out, any H and W.

    Args:
        tile: side of the square the generator sees at a time, or (rows, columns) of a rectangle (multiples of
            `multiple`); its activations bound the memory.
        overlap: page pixels shared by neighbouring tiles (at most tile/2); "crop" keeps about overlap/2 of context
            on each inner side of a tile, the feather blends ramp across the whole overlap.
        blend: "crop" (each pixel from the one tile whose core holds it), "linear" or "cosine" (feathered).
        statistics: how the instance-norm statistics are measured, see `tiled_statistics`.
        stats: statistics to use instead (layers missing from it normalize each tile with its own).
        scale: output pixels per input pixel along each side, for a part of a generator (1/2 after one stride-2
            layer, 2 after one upsampling layer); the output is ceil(H * scale) x ceil(W * scale).
        multiple: tile origins are multiples of this (the product of the strides: 4 for the whole generator), so
            every tile's stride-2 layers sample the page's own grid; the page is padded to a multiple of it as
            ResnetGenerator.forward pads.
    A page that fits in one tile runs untiled. The generator must be in eval mode; it is unchanged afterwards.
    """
    scale = Fraction(scale)
    _check(x, tile, overlap, blend, scale, multiple)
    padded = pad_to_multiple(x, multiple)
    h, w = (math.ceil(side * scale) for side in x.shape[-2:])
    tile_rows, tile_cols = _tile_shape(tile)
    if padded.shape[-2] <= tile_rows and padded.shape[-1] <= tile_cols:
        return generator(padded)[..., :h, :w].float()
    rows, cols = tile_axes(padded, tile, overlap, multiple)
    if stats is None:
        stats = tiled_statistics(generator, x, tile, overlap, statistics, multiple)

    out: torch.Tensor | None = None
    row_weights = [rows.weights(i, blend).to(x.device, torch.float32) for i in range(len(rows.starts))]
    col_weights = [cols.weights(j, blend).to(x.device, torch.float32) for j in range(len(cols.starts))]
    with fixed_statistics(generator, stats):
        for i, j in _tiles(rows, cols):
            y0, x0 = rows.starts[i], cols.starts[j]
            y = generator(padded[..., y0 : y0 + rows.size, x0 : x0 + cols.size])
            if out is None:
                out = torch.zeros((x.shape[0], y.shape[1], h, w), dtype=torch.float32, device=x.device)
            if blend == "crop":  # copy the core, in output pixels, clipped to the unpadded page
                a, b = int(rows.bounds[i] * scale), min(int(rows.bounds[i + 1] * scale), h)
                c, d = int(cols.bounds[j] * scale), min(int(cols.bounds[j + 1] * scale), w)
                ty, tx = int(y0 * scale), int(x0 * scale)
                if a < b and c < d:
                    out[..., a:b, c:d] = y[..., a - ty : b - ty, c - tx : d - tx]
                continue
            b, d = min(y0 + rows.size, h) - y0, min(x0 + cols.size, w) - x0
            if b > 0 and d > 0:
                weight = row_weights[i][:b, None] * col_weights[j][None, :d]
                out[..., y0 : y0 + b, x0 : x0 + d].addcmul_(y[..., :b, :d].float(), weight)
    if blend != "crop":  # weights are separable, so their sum over tiles is the outer product of the 1-D sums
        out.div_(rows.weight_sum(blend)[:h, None].to(out.device, torch.float32))
        out.div_(cols.weight_sum(blend)[None, :w].to(out.device, torch.float32))
    return out
