"""Pages in, pages out: load the colorizer G_AB alone and run it on uint8 B/W pages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from manga_cyclegan.images import from_uint8, to_uint8
from manga_cyclegan.nets import ResnetGenerator

GENERATOR_ARGS = ("ngf", "n_blocks", "norm", "upsample", "dropout")


def load_colorizer(path: str | Path, map_location: str | torch.device = "cpu") -> ResnetGenerator:
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
    state = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    generator.load_state_dict(state)
    return generator.eval()


def autocast(device: torch.device, precision: str):
    """Autocast context for "bf16"/"fp16", nothing for "fp32"."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device.type, dtype=dtype)


@torch.inference_mode()
def colorize_pages(
    generator: torch.nn.Module, pages: Iterable[np.ndarray], device: str | torch.device = "cpu", precision: str = "fp32"
) -> Iterator[np.ndarray]:
    """uint8 HxW B/W pages -> uint8 HxWx3 colored pages of the same size, one page at a time."""
    device = torch.device(device)
    generator = generator.to(device)
    for page in pages:
        x = from_uint8(page).unsqueeze(0).to(device)
        with autocast(device, precision):
            y = generator(x)
        yield to_uint8(y[0])


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
