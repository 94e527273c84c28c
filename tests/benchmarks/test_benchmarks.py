"""Each benchmark runs on a tiny size and prints its table (the figures themselves are measured, never tested)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow  # every benchmark runs in a fresh interpreter


def run_benchmark(name: str, args: list[str], tmp_path) -> tuple[str, dict]:
    out = tmp_path / f"{name}.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / f"{name}.py"), *args, "--json", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout, json.loads(out.read_text())


def test_machine_peak_prints_fp32_and_bf16(tmp_path):
    table, result = run_benchmark("machine_peak", ["--size", "128"], tmp_path)
    assert "TFLOP/s" in table and {"fp32", "bf16"} <= set(result["tflops"])
    assert all(v > 0 for v in result["tflops"].values())


def test_train_step_table_has_a_row_per_lever_and_the_ratio_to_the_first(tmp_path):
    table, result = run_benchmark("train_step", [
        "--models", "demo", "--size", "32", "--precisions", "32", "--channels-last", "off", "on",
        "--compile", "off", "--passes", "separate", "batched", "--warmup", "1", "--steps", "1",
    ], tmp_path)
    assert "s/step" in table and "of peak" in table and "Machine peak" in table
    rows = result["rows"]
    assert [(r["channels_last"], r["passes"]) for r in rows] == [
        ("off", "separate"), ("off", "batched"), ("on", "separate"), ("on", "batched")]
    assert rows[0]["speedup"] == 1.0 and all(r["s_per_step"] > 0 and r["gflop_per_step"] > 0 for r in rows)


def test_predict_page_table_gives_seconds_and_memory_per_mode(tmp_path):
    table, rows = run_benchmark("predict_page", [
        "--model", "demo", "--sizes", "96x80", "--modes", "flat", "lines", "raw", "--precisions", "fp32",
        "--repeats", "1",
    ], tmp_path)
    assert "s/page" in table and "MiB/MP" in table and "flat s" in table
    assert [r["mode"] for r in rows] == ["flat", "lines", "raw"]
    assert 0 < rows[0]["flat_seconds"] < rows[0]["seconds"] and rows[1]["flat_seconds"] == 0
    assert all(r["seconds"] > 0 and r["peak_rss_mib"] > 0 for r in rows)


def test_predict_chapter_table_times_a_chapter_with_and_without_overlap(tmp_path):
    table, rows = run_benchmark("predict_chapter", ["--model", "demo", "--size", "96x80", "--lengths", "3",
                                                    "--configs", "off-eager", "on-eager"], tmp_path)
    assert "pages/min" in table and "peak RSS MiB" in table
    assert [(r["pages"], r["overlap"], r["compile"]) for r in rows] == [(3, "off", "off"), (3, "on", "off")]
    assert all(r["pages_per_min"] > 0 and r["peak_rss_mib"] > 0 for r in rows)


def test_inference_graphs_table_times_each_graph_against_predicts_own(tmp_path):
    table, rows = run_benchmark("inference_graphs", [
        "--model", "demo", "--size", "40x48", "--repeats", "1", "--graphs", "predict", "predict-cl", "eager",
        "onnxruntime",
    ], tmp_path)
    assert "vs predict" in table
    assert [(r["graph"], r["precision"]) for r in rows] == [
        ("predict", "fp32"), ("predict", "bf16"), ("predict-cl", "fp32"), ("predict-cl", "bf16"), ("eager", "fp32"),
        ("eager", "bf16"), ("onnxruntime", "fp32")]
    fp32 = [r for r in rows if r["precision"] == "fp32"]
    assert all(r["max_abs_diff"] < 1e-3 for r in fp32)  # the same colors, whichever graph computes them


def test_data_pipeline_table_compares_delivery_with_consumption(tmp_path):
    table, result = run_benchmark("data_pipeline", [
        "--pages", "2", "--size", "160x128", "--workers", "0", "--warmup", "1", "--batches", "3",
        "--step-seconds", "1.0", "data.crop_size=64",
    ], tmp_path)
    assert "pairs/s" in table and "x consumed" in table
    (row,) = result["rows"]
    assert row["workers"] == 0 and row["pairs_per_s"] > 0 and row["times_consumed"] == pytest.approx(row["pairs_per_s"])


def test_tiling_table_compares_tiled_with_untiled(tmp_path):
    """The statistics and blends the colorizer's tiling was chosen over live in the benchmark: each gives a row,
    and tiles that normalize on their own are further off the untiled forward than the untiled statistics."""
    table, result = run_benchmark("tiling", [
        "--parts", "error", "--page-size", "48x40", "--settings", "24/8", "--pages", "0",
        "--methods", "tile", "pooled", "downscaled", "oracle", "--blends", "crop", "linear", "--blend-methods", "tile",
    ], tmp_path)
    assert "mean err" in table and "seam" in table
    rows = {(r["stats"], r["blend"]): r for r in result["error"]}
    expected = [("tile", "crop"), ("tile", "linear"), ("pooled", "crop"), ("downscaled", "crop"), ("oracle", "crop")]
    assert list(rows) == expected
    assert sum(line.startswith("full     24    8") for line in table.splitlines()) == len(expected)  # the summary
    assert all(0 <= r["mean_err"] <= r["max_err"] for r in rows.values())
    assert rows["oracle", "crop"]["mean_err"] < rows["tile", "crop"]["mean_err"]
    assert rows["tile", "linear"]["mean_err"] != rows["tile", "crop"]["mean_err"]  # the blend is applied


def test_chapter_consistency_table_scores_the_palette_against_the_plain_model(tmp_path, tiny_overrides):
    import torch

    from manga_cyclegan.train.module import CycleGAN

    torch.manual_seed(0)
    model = CycleGAN(ngf=4, ndf=4, n_blocks=1)
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, ckpt)
    data = [o for o in tiny_overrides if o.startswith("data.")]
    table, result = run_benchmark("chapter_consistency", ["--ckpt", str(ckpt), "--bootstrap", "0", *data], tmp_path)
    rows = ["model", "model x chroma 0.9 (control)", "model x chroma 0.8 (control)", "model + hue K=4 a=1.0",
            "model + hue K=8 a=0.5", "model + hue K=8 a=1.0", "model + hue K=16 a=1.0", "model + pull K=4 a=0.5",
            "model + pull K=8 a=0.5", "model + pull K=8 a=1.0", "model + region K=8 a=0.5", "model + region K=8 a=1.0"]
    assert list(result["scores"]) == rows
    header = next(line for line in table.splitlines() if line.startswith("method"))
    for column in ("consistency", "char_color_acc", "ciede2000", "colorfulness"):
        assert column in header and all(column in scores for scores in result["scores"].values())
    assert all(any(line.startswith(row + " ") for line in table.splitlines()) for row in rows)
    # Graying the chroma lowers the colorfulness, as the controls are there to show.
    scores = result["scores"]
    assert scores["model x chroma 0.8 (control)"]["colorfulness"] < scores["model"]["colorfulness"]
    assert result["deltas"] == {} and set(result["seconds"]) >= {"fit (24 pages)"}


def test_precision_curves_of_two_identical_runs_agree_exactly(tmp_path, tiny_overrides):
    overrides = [o for o in tiny_overrides if not o.startswith("trainer.precision")]
    table, rows = run_benchmark("precision_curves", [*overrides, "--batches", "6", "--windows", "2",
                                                     "--precisions", "32", "32"], tmp_path)
    assert "max gap" in table
    assert [r["precision"] for r in rows] == ["32", "32", "32", "32"]
    assert all(r["max_gap"] == 0 for r in rows) and all(len(r["windows"]) == 2 for r in rows)


def test_winograd_table_times_both_convolutions_and_they_agree(tmp_path):
    table, result = run_benchmark("winograd", ["--sizes", "12x10", "7x9", "--channels", "8", "--compile", "off",
                                               "--repeats", "1"], tmp_path)
    assert "36 products s" in table and "speedup" in table
    assert [r["size"] for r in result["rows"]] == ["12x10", "7x9"]  # 7x9: tiles padded past the edge and cropped
    for row in result["rows"]:
        assert row["direct_s"] > 0 and row["winograd_off_s"] > 0
        assert row["winograd_off_error"] < 1e-3, row  # a wrong transform is off by the activations' size, ~1


def test_quality_harness_trains_scores_and_keeps_one_row_per_run(tmp_path, tiny_overrides):
    results = tmp_path / "results"
    command = [sys.executable, str(REPO / "benchmarks" / "quality.py"), "--name", "tiny", "--results", str(results),
               "--run-root", str(tmp_path / "runs"), "--", *tiny_overrides, "trainer.max_epochs=1"]
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    (row,) = [json.loads(line) for line in (results / "quality.jsonl").read_text().splitlines()]
    assert row["name"] == "tiny" and row["batches"] > 0 and row["wall_s"] > 0
    assert {"model", "model raw", "tone lookup"} <= set(row["scores"])
    assert 0 <= row["scores"]["model"]["char_color_acc"] <= 1
    table = (results / "quality.md").read_text()
    assert "| 1 | tiny | 0 |" in table and "tone lookup" in table
    assert (tmp_path / "runs" / "tiny_s0" / "eval.png").is_file()  # the contact sheet beside the scores

    # The same checkpoint scored again as a row of its own, with an output option, on another set too.
    data = [o for o in tiny_overrides if o.startswith(("data.root=", "data.synthetic."))]
    ckpt = tmp_path / "runs" / "tiny_s0" / "checkpoints" / "last.ckpt"
    command = [sys.executable, str(REPO / "benchmarks" / "quality.py"), "--name", "tiny-gaps0", "--results",
               str(results), "--run-root", str(tmp_path / "runs"), "--eval-only", str(ckpt),
               "--extra-eval", "again:" + " ".join(data), "--", *data, "close_gaps=0"]
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    row = json.loads((results / "quality.jsonl").read_text().splitlines()[-1])
    assert row["eval_only"] and row["wall_s"] == 0 and row["batches"] > 0
    assert row["extra"]["again"]["model"]["char_color_acc"] == pytest.approx(row["scores"]["model"]["char_color_acc"])


def test_flat_output_variants_are_scored_on_one_set_of_colors(tmp_path, tiny_synthetic_set):
    from tests.helpers import save_training_checkpoint

    save_training_checkpoint(tmp_path / "m.ckpt", load_size=64, descreen_sigma=1.0)
    table, rows = run_benchmark("flat_output", ["--ckpt", str(tmp_path / "m.ckpt"), "--data", str(tiny_synthetic_set)],
                                tmp_path)
    assert "region medians" in table and {"no ink", "lines"} <= set(rows)
    assert all(0 <= row["ink_f1"] <= 1 for row in rows.values())


def test_outside_pages_scores_each_region_variant_and_keeps_paper_from_going_dark(tmp_path, tiny_ckpt):
    table, rows = run_benchmark("outside_pages", [str(tiny_ckpt)], tmp_path)
    assert "white_dark_%" in table and "balloon_L*" in table
    assert list(rows)[0].startswith("regions, predict's default") and len(rows) == 5
    # An untrained generator paints anything; the paper guard still keeps the paper from going dark.
    assert all(0 <= r["white_dark_%"] <= 0.5 and r["balloon_L*"] > 40 for r in rows.values())


def test_hint_matching_compares_descriptions_simulates_the_reader_and_scores_a_reference(tmp_path, tiny_synthetic_set):
    from tests.helpers import save_training_checkpoint

    save_training_checkpoint(tmp_path / "m.ckpt", load_size=64, descreen_sigma=1.0)
    table, result = run_benchmark("hint_matching", ["--ckpt", str(tmp_path / "m.ckpt"), "--data", str(tiny_synthetic_set),
                                                    "--thresholds", "0.9", "--reference-page", "0"], tmp_path)
    rows = result["rows"]
    assert set(rows["matching"]) == {"color", "bottleneck", "decoder", "features"} and "auc" in table
    for row in rows["matching"].values():
        assert 0 <= row["recall@2%"] <= 1 and 0 <= row["spill@tau"] <= 1
    assert len(rows["simulated"]) == 4 and all(0 < r["hint_clicks"] <= 12 for r in rows["simulated"].values())
    assert rows["reference"]["model + reference page 0"]["anchors"] > 0


def test_predict_hints_times_a_chapter_with_and_without_hints(tmp_path, tiny_synthetic_set):
    from tests.helpers import save_training_checkpoint

    save_training_checkpoint(tmp_path / "m.ckpt", load_size=64, descreen_sigma=1.0)
    table, rows = run_benchmark("predict_hints", ["--ckpt", str(tmp_path / "m.ckpt"), "--data", str(tiny_synthetic_set),
                                                  "--clicks", "2", "--repeats", "1"], tmp_path)
    assert "s/page" in table and rows["no hints"]["ratio"] == 1.0 and rows["2 hints"]["s/page"] > 0


def test_web_page_times_the_calls_the_page_makes(tmp_path):
    from tests.helpers import save_training_checkpoint

    save_training_checkpoint(tmp_path / "m.ckpt", load_size=64)
    table, rows = run_benchmark("web_page", ["--ckpt", str(tmp_path / "m.ckpt"), "--pages", "2", "--repeats", "1",
                                             "--size", "160x128"], tmp_path)
    assert "drop a 160x128 page" in table and len(rows) == 3 and all(r["s"] > 0 for r in rows.values())


def test_flat_speed_compares_with_another_revision_and_checks_the_output(tmp_path):
    table, rows = run_benchmark("flat_speed", ["--against", "HEAD", "--sizes", "96x80", "--repeats", "1"], tmp_path)
    assert "speedup" in table and rows["96x80"]["now s"] > 0 and rows["96x80"]["identical"] is True


def test_chapter_vote_scores_each_setting_beside_the_flat_output(tmp_path, tiny_synthetic_set):
    from tests.helpers import save_training_checkpoint

    save_training_checkpoint(tmp_path / "m.ckpt", load_size=64, descreen_sigma=1.0)
    table, rows = run_benchmark("chapter_vote", ["--ckpt", str(tmp_path / "m.ckpt"), "--data", str(tiny_synthetic_set),
                                                 "--similarities", "0.0", "1.01", "--shares", "0.0"], tmp_path)
    assert list(rows) == ["flat output", "vote 0.00, share 0.00", "vote 1.01, share 0.00"] and "consistency" in table
    assert rows["vote 1.01, share 0.00"]["regions_changed"] == 0  # no region is that alike: nothing moves
    assert rows["vote 1.01, share 0.00"]["char_color_acc"] == rows["flat output"]["char_color_acc"]
    # Every region alike: each takes the run's most common color class unless it is already in it.
    assert rows["vote 0.00, share 0.00"]["regions_changed"] > 0


def test_conv_peak_gives_the_convolutions_rate_against_the_peak(tmp_path):
    table, row = run_benchmark("conv_peak", [
        "--model", "demo", "--size", "32", "--precision", "32", "--channels-last", "off"], tmp_path)
    assert "of peak" in table and row["conv_gflop"] > 0
    assert 0 < row["conv_s"] < row["step_s_profiled"] and row["conv_share_of_peak"] > 0
