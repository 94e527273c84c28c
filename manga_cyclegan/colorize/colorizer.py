"""Pages in, pages out: colorize uint8 B/W pages with the colorizer G_AB.

The generator runs at a working size (`working_shape`): by default the scale it was trained at (the page's short
side resized to the training `data.load_size`, but never so small that the page's ink strokes come out thinner
than the training pages' did: `page_scale`), else a long side in pixels, or the page's own size ("native");
aspect kept, never enlarged. Large working images run with the generator's full-resolution layers in strips
(`manga_cyclegan.colorize.strips`), very large ones in overlapping tiles (`manga_cyclegan.colorize.tiling`), so memory is bounded by
the tile; both give the plain forward's output. Three output modes:

- "flat" (default): what a colored manga page looks like: the generator's colors (flat, no screen dots) brought
  to the page's size, the page's own ink lines and lettering painted black over them at full resolution
  (`manga_cyclegan.colorize.flat`).
- "lines": the page's own luma at full resolution, the model's chroma upsampled onto it (YCbCr,
  Rec.601 luma as PIL's gray). The gray of the output is the input wherever the color fits in the RGB cube, so
  ink lines, screentone and lettering stay as printed, whatever the working resolution.
- "raw": the generator's RGB output, at working resolution.

Pages become the generator's input as in training (`Colorizer.prepare`): descreened, and repeated into RGB for
weights with 3 input channels (the reference CycleGAN's G_A).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
import cv2
import numpy as np
import psutil
import torch

from manga_cyclegan.color import from_uint8, to_uint8, transfer_chroma
from manga_cyclegan.colorize.flat import CLOSE_GAPS, SPLIT_COLORS, SPLIT_TONES, flat_color
from manga_cyclegan.colorize.page_scale import stroke_width
from manga_cyclegan.colorize.palette import ChapterPalette
from manga_cyclegan.colorize.strips import generate_in_strips, generate_lean
from manga_cyclegan.colorize.tiling import DEFAULT_OVERLAP, generate_tiled
from manga_cyclegan.config.commands import MODES, PRECISIONS
from manga_cyclegan.config.precision import resolve_channels_last
from manga_cyclegan.nets import ResnetGenerator
from manga_cyclegan.nets.generator import prepare_input
from manga_cyclegan.nets.padding import SIZE_MULTIPLE, pad_to_multiple

# Working long side for weights that do not record their training scale (e.g. the reference CycleGAN's).
DEFAULT_LONG_SIDE = 1024
# Working images above this many pixels run with the generator's full-resolution layers in strips (run_generator).
STRIP_PIXELS = 1 << 20
# Bytes per working pixel of a page run in strips, per 64 channels of the generator's first layer: the peak above
# torch and the model, decode to encode, that benchmarks/predict_page.py measures, rounded up.
STRIP_BYTES_PER_PIXEL = 500
# Largest tile side of the tiled path: the full-size generator's plain forward on a tile this size holds under
# 1 GiB of activations (benchmarks/predict_page.py).
TILE_SIDE = 1024


@dataclass
class Colorizer:
    """The B/W -> color generator, the page scale it was trained at (short side in pixels; None: native), and the
    Gaussian descreen its inputs get first (std in working-size pixels; 0: none), as in training."""

    generator: ResnetGenerator
    short_side: int | None = None
    descreen_sigma: float = 0.0
    # The stroke width (working pixels) of the pages it learned from (`page_scale`); None: unknown.
    stroke_width: float | None = None

    def prepare(self, pages: torch.Tensor, border: str | None = None) -> torch.Tensor:
        """B/W pages [N, 1, H, W] in [-1, 1] -> the generator's input, as in training (`prepare_input`)."""
        return prepare_input(pages, self.generator.spec.in_channels, self.descreen_sigma, border)


def autocast(device: torch.device, precision: str):
    """Autocast context for "bf16"/"fp16", nothing for "fp32"."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device.type, dtype=dtype)


def working_shape(height: int, width: int, short_side: int | None, working_size: int | str = "auto",
                  least_scale: float | None = None) -> tuple[int, int]:
    """The (height, width) the generator runs at for a page of this size; aspect kept, never enlarged.

    working_size: "auto" (the training scale: short side `short_side`; a long side of DEFAULT_LONG_SIDE when the
    weights do not say; but not below `least_scale`, the scale at which the page's strokes are as wide as the
    training pages' were: see `content_least_scale`), "native" (the page's own size), or an int (the long side in
    pixels). Sizes below the page are rounded to a multiple of 4.
    """
    if working_size == "native":
        return height, width
    if working_size == "auto":
        scale = short_side / min(height, width) if short_side else DEFAULT_LONG_SIDE / max(height, width)
        scale = max(scale, least_scale or 0.0)
    elif isinstance(working_size, int) and not isinstance(working_size, bool) and working_size > 0:
        scale = working_size / max(height, width)
    else:
        raise ValueError(f"working_size must be 'auto', 'native' or a positive number of pixels, got {working_size!r}")
    if scale >= 1:
        return height, width
    return (max(SIZE_MULTIPLE, round(height * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE),
            max(SIZE_MULTIPLE, round(width * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE))


def content_least_scale(page: np.ndarray, learned_stroke_width: float | None) -> float | None:
    """The scale at which this page's ink strokes are as wide as those the colorizer learned from: pages drawn at
    the training pages' scale (a larger page holding more panels) are then not shrunk further than they were.
    None when either width is unknown."""
    if not learned_stroke_width:
        return None
    width = stroke_width(page)
    return learned_stroke_width / width if width else None


def to_working_size(page: np.ndarray, short_side: int | None, working_size: int | str = "auto",
                    learned_stroke_width: float | None = None) -> np.ndarray:
    """Shrink a page to its working shape (area interpolation: screentone averages to its tone)."""
    h, w = page.shape[:2]
    least = content_least_scale(page, learned_stroke_width) if working_size == "auto" else None
    target = working_shape(h, w, short_side, working_size, least)
    if target == (h, w):
        return page
    return cv2.resize(page, target[::-1], interpolation=cv2.INTER_AREA)


@dataclass
class InferenceSettings:
    """How pages go through the generator; the defaults are predict's."""

    mode: str = "flat"
    # "flat" mode: one color per region enclosed by the page's ink (False: the generator's colors per pixel).
    flat_regions: bool = True
    close_gaps: int = CLOSE_GAPS
    split_tones: bool = SPLIT_TONES
    split_colors: bool = SPLIT_COLORS
    working_size: int | str = "auto"
    device: str | torch.device = "cpu"
    precision: str = "fp32"
    # Working images above this many pixels run in overlapping tiles (bounded memory); None: never tile.
    tile_pixels: int | None = None
    # A chapter palette (manga_cyclegan.colorize.palette) applied to the generator's output; None: off.
    palette: ChapterPalette | None = None
    # torch.compile the generator for whole working images: the first page of each working size compiles first
    # (seconds; a C++ compiler must be installed), the pages after run faster. Strips and tiles stay eager.
    compile: bool = False
    # Channels-last activations and weights; None: where measured to pay (`config.precision.channels_last_pays`).
    channels_last: bool | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        self.device = torch.device(self.device)


@torch.inference_mode()
def colorize_batch(colorizer: Colorizer, pages: list[np.ndarray], settings: InferenceSettings) -> list[np.ndarray]:
    """uint8 HxW B/W pages -> uint8 HxWx3 colored pages ("flat", "lines": page size; "raw": working size)."""
    colors = generator_colors(colorizer, pages, settings)
    if settings.mode == "raw":
        return colors
    if settings.mode == "flat":
        return [flat_color(page, color, settings.flat_regions, settings.close_gaps, settings.split_tones,
                           settings.split_colors)
                for page, color in zip(pages, colors)]
    return [transfer_chroma(page, color) for page, color in zip(pages, colors)]


@torch.inference_mode()
def generator_colors(colorizer: Colorizer, pages: list[np.ndarray], settings: InferenceSettings) -> list[np.ndarray]:
    """uint8 HxW B/W pages -> the generator's uint8 hxwx3 colors at their working sizes (the chapter palette
    applied where there is one). Pages whose working shapes agree run as one batch; others run one by one.
    """
    channels_last = resolve_channels_last(settings.channels_last, settings.device.type)
    generator = colorizer.generator.to(settings.device, memory_format=_layout(channels_last))
    compiled = compiled_generator(generator) if settings.compile else None
    working = [to_working_size(p, colorizer.short_side, settings.working_size, colorizer.stroke_width) for p in pages]
    groups = [working] if len({w.shape for w in working}) == 1 else [[w] for w in working]
    colors = []
    for group in groups:
        x = colorizer.prepare(torch.stack([from_uint8(w) for w in group]).to(settings.device))
        x = x.contiguous(memory_format=_layout(channels_last))
        with autocast(settings.device, settings.precision):
            y = run_generator(generator, x, settings.tile_pixels, compiled=compiled)
        colors += [to_uint8(image) for image in y]
    if settings.palette is not None:
        colors = [settings.palette.apply(color) for color in colors]
    return colors


def _layout(channels_last: bool) -> torch.memory_format:
    return torch.channels_last if channels_last else torch.contiguous_format


def colorize_pages(
    colorizer: Colorizer,
    pages: Iterable[np.ndarray],
    mode: str = "flat",
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    **settings,
) -> Iterator[np.ndarray]:
    """One page at a time through `colorize_batch`, lazily."""
    settings = InferenceSettings(mode=mode, device=device, precision=precision, **settings)
    for page in pages:
        yield colorize_batch(colorizer, [page], settings)[0]


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_tile_pixels(tile_pixels: int | str | None, generator: torch.nn.Module, device: torch.device) -> int | None:
    """A number of pixels, None (never tile), or "auto": `auto_tile_pixels`."""
    if tile_pixels == "auto":
        return auto_tile_pixels(generator, device)
    if tile_pixels is not None and (not isinstance(tile_pixels, int) or isinstance(tile_pixels, bool)):
        raise ValueError(f"tile_pixels must be a number of pixels, auto or null, got {tile_pixels!r}")
    return tile_pixels


def free_memory(device: torch.device) -> int:
    """Bytes free now for this device's tensors: the GPU's free memory, or the memory the system can give without
    swapping (psutil; MemAvailable on Linux)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return psutil.virtual_memory().available


def auto_tile_pixels(generator: torch.nn.Module, device: torch.device) -> int:
    """The largest working image to run untiled: its strips must fit in half the memory free now (the other half
    is left to the rest of the machine). Tiles are exact but several times slower, so they are kept for pages that
    would not fit otherwise."""
    free = free_memory(device)
    spec = getattr(generator, "spec", None)
    per_pixel = STRIP_BYTES_PER_PIXEL * (spec.ngf if spec else 64) / 64
    return max(STRIP_PIXELS, int(free / 2 / per_pixel))


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compiled_generator(generator: torch.nn.Module) -> torch.nn.Module:
    """`torch.compile(generator)`, once per generator: its compiled graphs are kept for the next pages."""
    if generator not in _COMPILED:
        _COMPILED[generator] = torch.compile(generator)
    return _COMPILED[generator]


def run_generator(
    generator: torch.nn.Module, x: torch.Tensor, tile_pixels: int | None, strip_pixels: int = STRIP_PIXELS,
    compiled: torch.nn.Module | None = None,
) -> torch.Tensor:
    """The generator on a batch, in the least memory that keeps its output.

    Working images up to `strip_pixels` go through whole (`strips.generate_lean`: the plain forward's output in
    less memory); larger ones run with their full-resolution layers in strips (`strips.generate_in_strips`:
    the same output in about a third of the memory); above `tile_pixels` (None: never) they run in overlapping
    tiles of at most TILE_SIDE squared, so memory is bounded by the tile, not the page (`manga_cyclegan.colorize.tiling`:
    the same output too, but several times slower). Other generators take their plain forward. `compiled` (the
    generator's `compiled_generator`), where given, runs whole working images instead of the lean path.
    """
    pixels = x.shape[-2] * x.shape[-1]
    if tile_pixels is not None and pixels > tile_pixels:
        spec = getattr(generator, "spec", None)
        multiple = spec.size_multiple if spec else SIZE_MULTIPLE
        side = max(2 * multiple, min(TILE_SIDE, math.isqrt(tile_pixels) // multiple * multiple))
        return torch.cat([generate_tiled(generator, xi[None], side, min(DEFAULT_OVERLAP, side // 2), multiple=multiple)
                          for xi in x])
    if not isinstance(generator, ResnetGenerator):
        return generator(x)
    if pixels > strip_pixels:
        return generate_in_strips(generator, x)
    if compiled is not None:
        return compiled(pad_to_multiple(x, generator.spec.size_multiple))[..., :x.shape[-2], :x.shape[-1]]
    return generate_lean(generator, x)
