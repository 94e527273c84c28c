"""`python -m manga_cyclegan.evaluate` on a checkpoint trained on the tiny synthetic set."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_script


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, tiny_overrides):
    run_dir = tmp_path_factory.mktemp("evaluate_run")
    run_script("train.py", [*tiny_overrides, "trainer.max_epochs=1", f"hydra.run.dir={run_dir}"])
    return run_dir / "checkpoints" / "last.ckpt"


def test_evaluate_prints_model_beside_baselines_and_writes_json(tmp_path, tiny_checkpoint, tiny_overrides):
    data = [o for o in tiny_overrides if o.startswith("data.")]
    out = tmp_path / "scores.json"
    proc = run_script("manga_cyclegan.evaluate", [f"ckpt={tiny_checkpoint}", *data, f"json={out}", f"hydra.run.dir={tmp_path}"])
    for row in ("model", "model raw", "gray copy", "tone lookup"):
        assert row in proc.stdout
    scores = json.loads(out.read_text())["scores"]
    assert set(scores) == {"model", "model raw", "gray copy", "tone lookup"}
    for method in scores.values():
        assert {"psnr", "ciede2000", "char_color_acc", "consistency", "line_ssim", "ab_hist_dist"} <= set(method)
    # The gray copy is its own input: perfect line fidelity and no color at all.
    assert scores["gray copy"]["line_ssim"] == pytest.approx(1.0)
    assert scores["gray copy"]["colorfulness"] == pytest.approx(0.0)
    assert scores["tone lookup"]["colorfulness"] > 0
    # The default output keeps the page's own lines: its gray is the input page, up to rounding.
    assert scores["model"]["line_ssim"] > 0.97
    assert scores["model"]["colorfulness"] > 1.0  # and it does carry color


def test_evaluate_refuses_a_missing_checkpoint(tmp_path, tiny_overrides):
    data = [o for o in tiny_overrides if o.startswith("data.")]
    proc = run_script("manga_cyclegan.evaluate", [f"ckpt={tmp_path / 'nope.ckpt'}", *data, f"hydra.run.dir={tmp_path}"], check=False)
    assert proc.returncode != 0 and "checkpoint not found" in proc.stderr
