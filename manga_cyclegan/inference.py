"""Pages in, pages out: load the colorizer G_AB alone and colorize uint8 B/W pages.

The generator runs at its working resolution: the scale it was trained at (the page's short side resized to the
training `data.load_size`), or the page's own size for a model trained at native resolution. Two output modes:

- "lines" (default): the page's own luma at full resolution, the model's chroma upsampled onto it (Rec.601
  luma, the weights PIL uses for gray). The gray of the output equals the input, so ink lines, screentone and lettering stay exactly as
  printed, whatever the working resolution.
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

from manga_cyclegan.images import LUMA_WEIGHTS, from_uint8, to_uint8
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
    """Full-resolution RGB with exactly the luma of `luma_page` (uint8 HxW) and the chroma of `color` (any size).

    The chroma is taken as an RGB offset with zero luma (color - luma(color)) and added to the page's luma, scaled
    down per pixel only as far as needed to stay inside the RGB cube: clipping would change the lightness, and
    near white paper or black ink the color fades out, as it does in print.
    """
    h, w = luma_page.shape
    if color.shape[:2] != (h, w):
        color = cv2.resize(color, (w, h), interpolation=cv2.INTER_CUBIC)
    rgb = color.astype(np.float32)
    offset = rgb - (rgb @ np.asarray(LUMA_WEIGHTS, np.float32))[..., None]
    y = luma_page.astype(np.float32)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(offset > 0, (255 - y) / offset, np.where(offset < 0, y / -offset, np.inf))
    scale = np.clip(room.min(axis=-1, keepdims=True), 0, 1)
    return np.clip(np.rint(y + scale * offset), 0, 255).astype(np.uint8)


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
