"""Exporting the colorizer: safetensors round trips exactly, `python export.py` end to end, and an
ONNX model with dynamic sizes that onnxruntime runs as PyTorch does."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from manga_cyclegan.colorize.colorizer import Colorizer
from manga_cyclegan.colorize.export import ONNX_TOLERANCE
from manga_cyclegan.colorize.weights import (
    load_colorizer,
    save_colorizer,
)
from manga_cyclegan.io.atomic import atomic_path
from manga_cyclegan.nets import ResnetGenerator
from tests.helpers import run_script, save_training_checkpoint


@pytest.mark.parametrize("arch", [
    {"ngf": 4, "n_blocks": 1},
    {"in_channels": 3, "ngf": 6, "n_blocks": 2, "norm": "batch", "upsample": "resize", "dropout": True},
])
def test_safetensors_export_reloads_to_the_same_colorizer(tmp_path, arch):
    generator = ResnetGenerator(**arch).eval()
    path = save_colorizer(Colorizer(generator, short_side=128), tmp_path / "colorizer.safetensors")
    loaded = load_colorizer(path)
    assert loaded.short_side == 128
    assert loaded.generator.spec.as_dict() == generator.spec.as_dict()
    x = torch.rand(2, generator.spec.in_channels, 29, 34) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded.generator(x), generator(x))
    assert [p.name for p in tmp_path.iterdir()] == ["colorizer.safetensors"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "colorizer.safetensors"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_bytes(b"half of the new")
        raise RuntimeError("the writer died")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["colorizer.safetensors"]


@pytest.mark.slow  # export.py in a fresh interpreter
def test_export_command_writes_safetensors_next_to_the_checkpoint_and_nothing_else(tmp_path):
    model = save_training_checkpoint(tmp_path / "last.ckpt", load_size=80)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = run_script("export.py", [f"ckpt={tmp_path / 'last.ckpt'}"], cwd=cwd)
    output = tmp_path / "last.safetensors"
    assert f"Wrote {output} (" in proc.stdout and " MB)" in proc.stdout
    assert list(cwd.iterdir()) == []  # Hydra kept quiet: no outputs/, .hydra/ or log file
    colorizer = load_colorizer(output)
    assert colorizer.short_side == 80
    x = torch.rand(1, 1, 37, 50) * 2 - 1
    with torch.no_grad():
        assert torch.equal(colorizer.generator(x), model.G_AB.eval()(x))


@pytest.mark.slow  # export.py in a fresh interpreter
def test_export_command_refuses_an_unknown_format(tmp_path):
    save_training_checkpoint(tmp_path / "last.ckpt")
    proc = run_script("export.py", [f"ckpt={tmp_path / 'last.ckpt'}", "format=tflite"], cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "format='tflite' is not allowed: use one of safetensors, onnx" in proc.stderr


@pytest.mark.slow  # export.py in a fresh interpreter
def test_onnx_export_runs_in_onnxruntime_at_any_size_as_pytorch_does(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    model = save_training_checkpoint(tmp_path / "last.ckpt", load_size=80)
    output = tmp_path / "exported" / "colorizer.onnx"
    proc = run_script("export.py", [f"ckpt={tmp_path / 'last.ckpt'}", "format=onnx", f"output={output}"],
                      cwd=tmp_path)
    assert "onnxruntime vs PyTorch: max abs difference" in proc.stdout and f"Wrote {output}" in proc.stdout

    meta = {p.key: p.value for p in onnx.load(output).metadata_props}
    info = json.loads(meta["manga_cyclegan"])
    assert info["short_side"] == 80 and info["arch"]["ngf"] == 4
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    (page,), (color,) = session.get_inputs(), session.get_outputs()
    assert (page.name, page.shape) == ("page", ["batch", 1, "height", "width"])
    assert (color.name, color.shape) == ("color", ["batch", 3, "height", "width"])
    generator = model.G_AB.eval()
    # Odd sizes (the model pads and crops), a multiple of 4 (no padding) and a batch: all from one export.
    for shape in [(1, 1, 37, 50), (2, 1, 64, 48), (1, 1, 33, 35)]:
        x = torch.rand(shape) * 2 - 1
        with torch.no_grad():
            expected = generator(x).numpy()
        (got,) = session.run(None, {"page": x.numpy()})
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= ONNX_TOLERANCE


def test_safetensors_keep_the_descreen_the_generator_was_trained_with(tmp_path):
    generator = ResnetGenerator(ngf=4, n_blocks=1).eval()
    path = save_colorizer(Colorizer(generator, short_side=64, descreen_sigma=1.5), tmp_path / "c.safetensors")
    loaded = load_colorizer(path)
    assert (loaded.short_side, loaded.descreen_sigma) == (64, 1.5)
