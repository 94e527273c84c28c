"""Helpers the test files share: run the real entry points, tiny data and models, pages the tests draw.

Test files import from here (never from one another); conftest.py holds only fixtures. The package is imported
inside the functions that need it, so that importing this module stays cheap and loads no flow of the package.
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "manga_cyclegan" / "conf"

# A tiny synthetic set and a tiny model: a whole training run takes seconds on 2 cores.
TINY_DATA = [
    "data.synthetic.page_height=160",
    "data.synthetic.page_width=128",
    "data.synthetic.n_train_a=6",
    "data.synthetic.n_train_b=5",
    "data.synthetic.n_test=2",
    "data.crop_size=64",
    "data.num_workers=0",
    "data.persistent_workers=false",
    "data.val_max_size=96",
]
TINY_MODEL = [
    "model.ngf=8",
    "model.ndf=8",
    "model.n_blocks=1",
    "model.pool_size=3",
    "model.image_log_every_n_batches=2",
    "model.val_samples=1",
]


# --------------------------------------------------------------------------- entry points
def run_script(script: str, args: list[str], cwd: Path | None = None, check: bool = True, timeout: int = 300):
    """Run an entry point in a fresh interpreter, as a user would: a script of the repo ("train.py") or a
    module ("manga_cyclegan.evaluate", run with -m)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MANGA_CYCLEGAN_ROOT": str(cwd or REPO)}
    target = [str(REPO / script)] if script.endswith(".py") else ["-m", script]
    proc = subprocess.run(
        [sys.executable, *target, *args],
        cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def compose_train(overrides: list[str], output_dir: Path | None = None):
    """conf/train.yaml composed with `overrides` as train.py would; with `output_dir`, HydraConfig is set as in a run
    there, so train(cfg) can run in this process."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    import manga_cyclegan.config  # noqa: F401  (resolvers)

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(output_dir)
            cfg.hydra.runtime.cwd = str(REPO)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg.hydra  # as @hydra.main hands it to the task: ${hydra:...} now reads HydraConfig
    return cfg


# --------------------------------------------------------------------------- models
def save_training_checkpoint(path, load_size=64, **hparams):
    """A tiny CycleGAN saved as Lightning does (the keys load_colorizer reads); returns the module."""
    import torch

    from manga_cyclegan.train.module import CycleGAN

    model = CycleGAN(**{"ngf": 4, "ndf": 4, "n_blocks": 1, **hparams})
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                "datamodule_hyper_parameters": {"load_size": load_size}}, path)
    return model


def tiny_generator(norm: str = "instance", in_channels: int = 1, n_blocks: int = 1, seed: int = 0):
    """A small generator whose far pixels still matter: weights ~ N(0, 1/fan_in), not the reference's N(0, 0.02),
    under which a pixel's influence dies out within a few pixels and geometry mistakes would hide."""
    import torch
    from torch import nn

    from manga_cyclegan.nets import ResnetGenerator

    torch.manual_seed(seed)
    g = ResnetGenerator(in_channels, 3, ngf=8, n_blocks=n_blocks, norm=norm)
    for m in g.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            fan_in = m.weight[0].numel() if isinstance(m, nn.Conv2d) else m.weight[:, 0].numel()
            nn.init.normal_(m.weight, 0.0, 1 / math.sqrt(fan_in))
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2)
    return g.eval()


# --------------------------------------------------------------------------- pages
PAGE = (203, 157)  # page()'s size: odd on both sides, so padding, uneven tile spread and clipped last tiles all happen


def page(channels: int = 1, size: tuple[int, int] = PAGE, seed: int = 1):
    """A noise page as the generator sees it: a (1, channels, H, W) tensor in [-1, 1]."""
    import torch

    return torch.rand(1, channels, *size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def manga_page(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A B/W page with ink lines, gray areas and dot screentone."""
    rng = np.random.default_rng(seed)
    page = np.full((height, width), 255, np.uint8)
    yy, xx = np.indices((height, width))
    page[(yy // 7 + xx // 9) % 5 == 0] = 150
    page[((yy % 4 == 0) & (xx % 4 == 0)) & (yy > height // 2)] = 0
    for _ in range(6):
        r, c = rng.integers(0, height), rng.integers(0, width)
        page[max(0, r - 1):r + 1, :] = 0
        page[:, max(0, c - 1):c + 1] = 0
    return page


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()
