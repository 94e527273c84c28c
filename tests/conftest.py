"""Fixtures shared by the test files; the helpers they use live in tests/helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import TINY_DATA, TINY_MODEL, save_training_checkpoint


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """Where the tiny synthetic set lives; generated once by the first run that needs it."""
    return tmp_path_factory.mktemp("data") / "synthetic"


@pytest.fixture(scope="session")
def tiny_synthetic_set(synthetic_root) -> Path:
    """The tiny set itself, generated with the same parameters the TINY_DATA overrides name."""
    from manga_cyclegan.data.synthetic import ensure_synthetic_set

    prefix = "data.synthetic."
    params = {o[len(prefix):].split("=")[0]: int(o.split("=")[1]) for o in TINY_DATA if o.startswith(prefix)}
    return ensure_synthetic_set(synthetic_root, **params)


@pytest.fixture(scope="session")
def tiny_overrides(synthetic_root) -> list[str]:
    return [f"data.root={synthetic_root}", *TINY_DATA, *TINY_MODEL, "trainer.precision=32"]


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    """An untrained tiny CycleGAN saved as a training checkpoint (nothing is trained: it is quick)."""
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    save_training_checkpoint(path, load_size=32)
    return path


@pytest.fixture(scope="module")
def colorizer():
    """A tiny untrained colorizer working at short side 32."""
    import torch

    from manga_cyclegan.colorize.colorizer import Colorizer
    from manga_cyclegan.nets import ResnetGenerator

    torch.manual_seed(0)
    return Colorizer(ResnetGenerator(1, 3, ngf=4, n_blocks=1).eval(), short_side=32)
