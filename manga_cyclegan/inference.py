"""Pages in, pages out: load the colorizer G_AB alone and colorize uint8 B/W pages.

The generator runs at its working resolution: the scale it was trained at (the page's short side resized to the
training `data.load_size`), or the page's own size for a model trained at native resolution. Two output modes:

- "lines" (default): the page's own luma at full resolution, the model's chroma upsampled onto it (YCbCr,
  Rec.601 luma as PIL's gray). The gray of the output is the input wherever the color fits in the RGB cube, so
  ink lines, screentone and lettering stay as printed, whatever the working resolution.
- "raw": the generator's RGB output, at working resolution.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from manga_cyclegan.images import from_uint8, to_uint8
from manga_cyclegan.nets import ResnetGenerator

GENERATOR_ARGS = ("ngf", "n_blocks", "norm", "upsample", "dropout")
MODES = ("lines", "raw")


@dataclass
class Colorizer:
    """The B/W -> color generator and the page scale it was trained at (short side in pixels; None: native)."""

    generator: ResnetGenerator
    short_side: int | None = None


def load_colorizer(path: str | Path, map_location: str | torch.device = "cpu") -> Colorizer:
    """G_AB from a training checkpoint of this project, rebuilt from the hyperparameters stored in it.

    Loaded with `weights_only=True`: a checkpoint is data, and one that carries pickled code is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if "state_dict" not in checkpoint or "hyper_parameters" not in checkpoint:
        raise ValueError(f"{path} is not a manga-cyclegan training checkpoint (no state_dict/hyper_parameters)")
    hparams = checkpoint["hyper_parameters"]
    generator = ResnetGenerator(1, 3, **{k: hparams[k] for k in GENERATOR_ARGS if k in hparams})
    prefix = "G_AB."
    generator.load_state_dict({k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)})
    short_side = (checkpoint.get("datamodule_hyper_parameters") or {}).get("load_size")
    return Colorizer(generator.eval(), short_side)


def autocast(device: torch.device, precision: str):
    """Autocast context for "bf16"/"fp16", nothing for "fp32"."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device.type, dtype=dtype)


def to_working_size(page: np.ndarray, short_side: int | None) -> np.ndarray:
    """Shrink a page so its short side is `short_side` (area interpolation: screentone averages to its tone)."""
    h, w = page.shape[:2]
    if short_side is None or min(h, w) <= short_side:
        return page
    scale = short_side / min(h, w)
    return cv2.resize(page, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def transfer_chroma(luma_page: np.ndarray, color: np.ndarray) -> np.ndarray:
    """Full-resolution RGB with the luma of `luma_page` (uint8 HxW) and the chroma of `color` (any size), in YCbCr.

    Where full chroma would leave the RGB cube, the channels are clipped, which shifts the luma there: scaling
    the chroma down instead would keep the luma exact but leaves no color at all on pure black and white pixels,
    that is, on every pixel of a binary screentone page. Measured on the synthetic demo (character color accuracy
    0.23 vs 0.16, line SSIM 0.99 vs 0.80), this also beats a multiply blend of the color under the scan.
    """
    h, w = luma_page.shape
    ycrcb = cv2.cvtColor(color, cv2.COLOR_RGB2YCrCb)
    if ycrcb.shape[:2] != (h, w):
        ycrcb = cv2.resize(ycrcb, (w, h), interpolation=cv2.INTER_CUBIC)
    ycrcb[..., 0] = luma_page
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)


@torch.inference_mode()
def colorize_pages(
    colorizer: Colorizer,
    pages: Iterable[np.ndarray],
    mode: str = "lines",
    device: str | torch.device = "cpu",
    precision: str = "fp32",
) -> Iterator[np.ndarray]:
    """uint8 HxW B/W pages -> uint8 HxWx3 colored pages ("lines": page size; "raw": working size)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    device = torch.device(device)
    generator = colorizer.generator.to(device)
    for page in pages:
        x = from_uint8(to_working_size(page, colorizer.short_side)).unsqueeze(0).to(device)
        with autocast(device, precision):
            color = to_uint8(generator(x)[0])
        yield color if mode == "raw" else transfer_chroma(page, color)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
