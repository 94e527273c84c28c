"""Shared helpers: run the real entry points on a tiny synthetic set that the tests generate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

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


def run_script(script: str, args: list[str], cwd: Path | None = None, check: bool = True, timeout: int = 300):
    """Run an entry point in a fresh interpreter, as a user would: a script of the repo ("train.py") or a
    module ("manga_cyclegan.evaluate.command", run with -m)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MANGA_CYCLEGAN_ROOT": str(cwd or REPO)}
    target = [str(REPO / script)] if script.endswith(".py") else ["-m", script]
    proc = subprocess.run(
        [sys.executable, *target, *args],
        cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc
