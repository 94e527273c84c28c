"""`python -m manga_cyclegan.evaluate` on a checkpoint trained on the tiny synthetic set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import run_script

pytestmark = pytest.mark.slow  # train.py and the evaluate command, each in a fresh interpreter


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, tiny_overrides):
    run_dir = tmp_path_factory.mktemp("evaluate_run")
    run_script("train.py", [*tiny_overrides, "trainer.max_epochs=1", f"hydra.run.dir={run_dir}"])
    return run_dir / "checkpoints" / "last.ckpt"


def test_evaluate_prints_model_beside_baselines_and_writes_json(tmp_path, tiny_checkpoint, tiny_overrides):
    data = [o for o in tiny_overrides if o.startswith("data.")]
    out = tmp_path / "scores.json"
    root = next(o.split("=", 1)[1] for o in data if o.startswith("data.root="))
    reference = f"{root}/testB/page_0000.png"  # the truth of the first test page
    proc = run_script("manga_cyclegan.evaluate", [f"ckpt={tiny_checkpoint}", *data, f"json={out}", "hints=2",
                                                  f"reference={reference}", f"hydra.run.dir={tmp_path}"])
    rows = ("model", "model lines", "model raw", "gray copy", "tone lookup", "model + 2 hints",
            "model, the reference's other pages", "model + reference")
    for row in rows:
        assert row in proc.stdout
    scores = json.loads(out.read_text())["scores"]
    assert set(scores) == set(rows)
    # The simulated reader: two clicks on parts the barely trained model gets wrong, each coloring its own region
    # at least, with the truth's color.
    hinted = scores["model + 2 hints"]
    assert hinted["hint_clicks"] == 2 and hinted["hint_regions"] >= 2 and 0 <= hinted["hint_spill"] <= 1
    # The reference's own page is left out of both reference rows, which score the same other pages.
    pages = len(list(Path(root, "testA").glob("*.png")))
    assert scores["model + reference"]["pages"] == pages - 1 and scores["model + reference"]["reference_regions"] > 0
    for method in scores.values():
        assert {"psnr", "ciede2000", "char_color_acc", "consistency", "ink_f1", "ab_hist_dist"} <= set(method)
    # The gray copy keeps the screentone dots, which the truth has not: they count as invented ink.
    assert scores["gray copy"]["ink_f1"] < 0.9
    assert scores["gray copy"]["colorfulness"] == pytest.approx(0.0)
    assert scores["tone lookup"]["colorfulness"] > 0
    # The default output adds the page's own ink lines to the model's colors, whatever the model learned.
    assert scores["model"]["ink_f1"] > scores["model raw"]["ink_f1"] + 0.05
    assert scores["model"]["colorfulness"] > 1.0  # and it does carry color
    # The contact sheet beside the JSON: a header and a row per page, five pages wide.
    sheet = np.asarray(Image.open(out.with_suffix(".png")))
    assert "Contact sheet" in proc.stdout and sheet.ndim == 3
    assert sheet.shape[1] > 5 * 40 and sheet.shape[0] > 24 + 40


def test_evaluate_refuses_a_missing_checkpoint(tmp_path, tiny_overrides):
    data = [o for o in tiny_overrides if o.startswith("data.")]
    proc = run_script("manga_cyclegan.evaluate", [f"ckpt={tmp_path / 'nope.ckpt'}", *data, f"hydra.run.dir={tmp_path}"], check=False)
    assert proc.returncode != 0 and "checkpoint not found" in proc.stderr
