"""Run a generator on pages larger than memory allows: overlapping tiles, no seams, memory bounded by the tile.

Two things make a tiled forward differ from the plain one, and each is handled:

- Instance norm normalizes with the statistics of the whole image. A tile normalizing with its own would shift
  its colors and leave seams, so the page's statistics are measured first, tile by tile (`tiled_statistics`:
  "exact" gives the untiled forward's statistics, one partial tiled pass per norm layer), and every tile then
  normalizes with them (`manga_cyclegan.colorize.norm_stats` measures and fixes them).
- Convolutions near a tile's cut edge see padding instead of page. Tiles overlap, and each output pixel comes
  from the one tile whose core holds it, at least overlap/2 pixels from any cut: beyond that the generator's
  effective receptive field has died out (benchmarks/tiling.py measures it).

With both, a tiled page matches the untiled forward to rounding (tests/colorize/test_tiling.py), while memory is
that of one tile's activations, whatever the page size. The cheaper statistics and the feathered blends this was
compared with live in benchmarks/tiling.py, which measures them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import nn

from manga_cyclegan.colorize.norm_stats import (
    Core,
    NormStatistics,
    fixed_statistics,
    image_norms,
    layerwise_statistics,
)
from manga_cyclegan.nets.padding import SIZE_MULTIPLE, pad_to_multiple

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 128
# A tile's side, or (rows, columns) for rectangular tiles such as full-width strips.
TileShape = int | tuple[int, int]


@dataclass(frozen=True)
class TileAxis:
    """Tiles along one axis of the padded page: starts and cores (a partition of the page)."""

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


def _tiles(rows: TileAxis, cols: TileAxis) -> Iterator[tuple[int, int]]:
    for i in range(len(rows.starts)):
        for j in range(len(cols.starts)):
            yield i, j


def tile_pieces(padded: torch.Tensor, rows: TileAxis, cols: TileAxis) -> list[tuple[torch.Tensor, Core]]:
    """Every tile of the padded page (a view, no copy) with its core relative to the tile."""
    pieces = []
    for i, j in _tiles(rows, cols):
        y0, x0 = rows.starts[i], cols.starts[j]
        core = (rows.bounds[i] - y0, rows.bounds[i + 1] - y0, cols.bounds[j] - x0, cols.bounds[j + 1] - x0)
        pieces.append((padded[..., y0 : y0 + rows.size, x0 : x0 + cols.size], core))
    return pieces


@torch.no_grad()
def tiled_statistics(
    generator: nn.Module,
    x: torch.Tensor,
    tile: TileShape = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    multiple: int = SIZE_MULTIPLE,
) -> NormStatistics:
    """Norm statistics of the full-resolution page for a tiled run, without full-resolution activations: the
    statistics of the untiled forward (up to the halo's effect on the cores), one partial tiled pass per norm layer:
    layer k is measured with layers < k already exact, and each tile stops after layer k.
    `multiple`: tile origins are multiples of it (the product of the generator's strides), see `generate_tiled`.
    """
    if not image_norms(generator):
        return {}
    padded = pad_to_multiple(x, multiple)
    return layerwise_statistics(generator, tile_pieces(padded, *tile_axes(padded, tile, overlap, multiple)))


def _check(x: torch.Tensor, tile: TileShape, overlap: int, scale: Fraction, multiple: int) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected an N x C x H x W page batch, got shape {tuple(x.shape)}")
    for side in _tile_shape(tile):
        if side < 2 * multiple or side % multiple:
            raise ValueError(f"tile sides must be multiples of {multiple} and >= {2 * multiple}, got {tile}")
        if not 0 <= overlap <= side // 2:
            raise ValueError(f"overlap must be in [0, tile/2 = {side // 2}], got {overlap}")
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
    stats: NormStatistics | None = None,
    scale: Fraction | int = 1,
    multiple: int = SIZE_MULTIPLE,
) -> torch.Tensor:
    """`generator(x)` computed tile by tile: N x C x H x W in, N x C_out x H x W float32 out, any H and W.

    Args:
        tile: side of the square the generator sees at a time, or (rows, columns) of a rectangle (multiples of
            `multiple`); its activations bound the memory.
        overlap: page pixels shared by neighbouring tiles (at most tile/2); each output pixel comes from the one
            tile whose core holds it, about overlap/2 pixels of context on each inner side of a tile.
        stats: statistics to use instead of `tiled_statistics` (layers missing from it normalize each tile with
            its own; benchmarks/tiling.py passes its approximations here).
        scale: output pixels per input pixel along each side, for a part of a generator (1/2 after one stride-2
            layer, 2 after one upsampling layer); the output is ceil(H * scale) x ceil(W * scale).
        multiple: tile origins are multiples of this (the product of the strides: 4 for the whole generator), so
            every tile's stride-2 layers sample the page's own grid; the page is padded to a multiple of it as
            ResnetGenerator.forward pads.
    A page that fits in one tile runs untiled. The generator must be in eval mode; it is unchanged afterwards.
    """
    scale = Fraction(scale)
    _check(x, tile, overlap, scale, multiple)
    padded = pad_to_multiple(x, multiple)
    h, w = (math.ceil(side * scale) for side in x.shape[-2:])
    tile_rows, tile_cols = _tile_shape(tile)
    if padded.shape[-2] <= tile_rows and padded.shape[-1] <= tile_cols:
        return generator(padded)[..., :h, :w].float()
    rows, cols = tile_axes(padded, tile, overlap, multiple)
    if stats is None:
        stats = tiled_statistics(generator, x, tile, overlap, multiple)

    out: torch.Tensor | None = None
    with fixed_statistics(generator, stats):
        for i, j in _tiles(rows, cols):
            y0, x0 = rows.starts[i], cols.starts[j]
            y = generator(padded[..., y0 : y0 + rows.size, x0 : x0 + cols.size])
            if out is None:
                out = torch.zeros((x.shape[0], y.shape[1], h, w), dtype=torch.float32, device=x.device)
            # copy the core, in output pixels, clipped to the unpadded page
            a, b = int(rows.bounds[i] * scale), min(int(rows.bounds[i + 1] * scale), h)
            c, d = int(cols.bounds[j] * scale), min(int(cols.bounds[j + 1] * scale), w)
            ty, tx = int(y0 * scale), int(x0 * scale)
            if a < b and c < d:
                out[..., a:b, c:d] = y[..., a - ty : b - ty, c - tx : d - tx]
    return out
