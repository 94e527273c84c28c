"""The generator on a whole page in a fraction of the memory, with the plain forward's output.

`generate_lean` runs it whole, layer by layer (each input freed as soon as its output exists) with the transposed
convolutions in channels-last memory (no full-size reorder buffer). For large pages `generate_in_strips` goes
further: most of a ResnetGenerator's memory is its full-resolution layers (64 channels: 256 bytes per page pixel
and tensor in fp32), while most of its work is the residual blocks at quarter resolution. So:

    x --[pad, conv 7x7, norm, relu, conv stride 2]--> half resolution      in full-width strips (`STEM`)
      --[norm, relu, conv stride 2, norm, relu, residual blocks, up, norm, relu]--> half resolution    whole
      --[up, norm, relu, pad, conv 7x7, tanh]--> page                      in full-width strips (`HEAD`)

Each strip segment holds one instance norm; its statistics over the whole page are measured in a first strip pass
(`tiling.tiled_statistics`, "exact"), then every strip normalizes with them. Strips overlap by more than the
segment's receptive field and each output row comes from the strip whose core holds it, so the output is the plain
forward's, up to float rounding (tests/test_strips.py). What it saves and costs is measured by
benchmarks/predict_page.py (the README has the figures).
"""

from __future__ import annotations

from fractions import Fraction

import torch
from torch import nn

from manga_cyclegan.colorize.tiling import generate_tiled
from manga_cyclegan.nets import ResnetGenerator
from manga_cyclegan.nets.layers import is_channels_last
from manga_cyclegan.nets.padding import pad_to_multiple

# Layers of ResnetGenerator.model in the strip segments: up to the first stride-2 conv, and from the last upsampling.
STEM, HEAD = 5, 6
# Rows shared by neighbouring strips: each core keeps >= 7 rows of context on both sides, more than the receptive
# field radius of either segment (stem: 3 + 1 rows of the page; head: 1 + 2 rows of its half-resolution input).
OVERLAP = 16
# Pixels of a strip (rows x page width): its activations bound the memory of the strip segments.
DEFAULT_STRIP_PIXELS = 1 << 18


def split(generator: ResnetGenerator) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(stem, middle, head) of the generator's layers, so that head(middle(stem(padded page))) is its forward."""
    layers = generator.model
    first_down, last_up = layers[STEM - 1], layers[len(layers) - HEAD]
    if not (isinstance(first_down, nn.Conv2d) and first_down.stride == (2, 2)):
        raise ValueError(f"expected the first stride-2 conv at layer {STEM - 1}, found {first_down}")
    if isinstance(last_up, nn.Sequential):  # upsample="resize": Upsample, pad, conv
        last_up = last_up[0]
    if not isinstance(last_up, nn.ConvTranspose2d | nn.Upsample):
        raise ValueError(f"expected the last upsampling at layer {len(layers) - HEAD}, found {last_up}")
    return layers[:STEM], layers[STEM : len(layers) - HEAD], layers[len(layers) - HEAD :]


def strip_rows(width: int, strip_pixels: int, multiple: int = 4) -> int:
    """Rows per strip for a page this wide: `strip_pixels` worth, a multiple of `multiple` (the generator's size
    multiple), at least 4 * OVERLAP."""
    rows = strip_pixels // max(1, width) // multiple * multiple
    return max(4 * OVERLAP, rows)


def run_lean(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """`layers(x)` for inference, in less memory: layer by layer so that each input is freed as soon as
    its output exists, the transposed convolutions in channels-last memory. (The instance norms are the layers'
    own: an in-place norm saved one layer's activations but ran several times slower, in bf16 nine times.)"""
    for layer in layers:
        if isinstance(layer, nn.ConvTranspose2d):
            x = _channels_last(layer, x)
        else:
            x = layer(x)
    return x


@torch.no_grad()
def generate_lean(generator: ResnetGenerator, x: torch.Tensor) -> torch.Tensor:
    """`generator(x)` on the whole page at once, through `run_lean`."""
    h, w = x.shape[-2:]
    return run_lean(generator.model, pad_to_multiple(x, generator.spec.size_multiple))[..., :h, :w]


class ChannelsLast(nn.Module):
    """A transposed convolution computed as `_channels_last` does, inside a segment that runs in strips."""

    def __init__(self, layer: nn.ConvTranspose2d):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _channels_last(self.layer, x)


def _channels_last(layer: nn.ConvTranspose2d, x: torch.Tensor) -> torch.Tensor:
    """`layer(x)` computed in channels-last memory, returned in the input's layout. On a CPU, oneDNN reorders an
    NCHW transposed convolution's output through a second full-size buffer and computes it slower; in
    channels-last it needs neither."""
    weight = layer.weight.contiguous(memory_format=torch.channels_last)
    out = torch.nn.functional.conv_transpose2d(
        x.contiguous(memory_format=torch.channels_last), weight, layer.bias, layer.stride, layer.padding,
        layer.output_padding, layer.groups, layer.dilation)
    return out if is_channels_last(x) else out.contiguous()


@torch.no_grad()
def generate_in_strips(
    generator: ResnetGenerator, x: torch.Tensor, strip_pixels: int = DEFAULT_STRIP_PIXELS
) -> torch.Tensor:
    """`generator(x)` (N x C x H x W in, float32 out of the same size) with the full-resolution layers in strips.

    The generator must be in eval mode; it is unchanged afterwards.
    """
    stem, middle, head = split(generator)
    h, w = x.shape[-2:]
    multiple = generator.spec.size_multiple
    padded = pad_to_multiple(x, multiple)  # as ResnetGenerator.forward pads
    rows = strip_rows(padded.shape[-1], strip_pixels, multiple)
    half = generate_tiled(stem, padded, (rows, padded.shape[-1]), OVERLAP, scale=Fraction(1, 2), multiple=2)
    half = run_lean(middle, half)
    if isinstance(head[0], nn.ConvTranspose2d):
        head = nn.Sequential(ChannelsLast(head[0]), *head[1:])
    out = generate_tiled(head, half, (rows // 2, half.shape[-1]), OVERLAP, scale=2, multiple=1)
    return out[..., :h, :w]
