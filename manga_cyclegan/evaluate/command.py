"""Evaluate a colorizer checkpoint on a test set and print it beside the baselines.

    python -m manga_cyclegan.evaluate ckpt=PATH [data=synthetic|folder] [json=scores.json] [sheet=sheet.png]

With `json`, the contact sheet (a row per page: B/W input | model | model raw | tone lookup | truth) is written
beside it as a PNG of the same stem, unless `sheet` names another path.

"model" is what predict gives by default (mode "flat": the model's flat colors with the page's own ink lines),
"model lines" its "lines" mode (the model's chroma on the page's own lightness, screentone kept), "model raw" the
generator's RGB output resized to the page. Baselines, scored by the same code: "gray copy" (the input as is)
and "tone lookup" (the best colorization from gray level alone, learned from the training color pages, its
screentone calibrated on the unpaired training B/W pages).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import hydra
import numpy as np
from omegaconf import DictConfig

import manga_cyclegan.config  # noqa: F401  (resolvers)
from manga_cyclegan.color import to_uint8, transfer_chroma
from manga_cyclegan.colorize.colorizer import InferenceSettings, colorize_pages, resolve_device
from manga_cyclegan.colorize import hints
from manga_cyclegan.colorize.flat import flat_color
from manga_cyclegan.colorize.weights import load_colorizer
from manga_cyclegan.config.commands import EvaluateConfig
from manga_cyclegan.config.errors import config_hint
from manga_cyclegan.config.groups import DataConfig
from manga_cyclegan.config.schema import arch_overrides, check_config
from manga_cyclegan.data.layout import DataLayout
from manga_cyclegan.evaluate.baselines import ToneLookup, gray_copy
from manga_cyclegan.evaluate.hints import simulate
from manga_cyclegan.evaluate.report import contact_sheet, format_table
from manga_cyclegan.evaluate.scoring import score_pages
from manga_cyclegan.io.atomic import atomic_write_bytes
from manga_cyclegan.io.decode import read_page
from manga_cyclegan.predict.run import read_references
from manga_cyclegan.predict.sinks import OutputOptions


def test_pages(datamodule) -> list[dict]:
    """The datamodule's validation pages as uint8 arrays: "bw", and "truth"/"labels" for a paired set."""
    pages, dataset = [], datamodule.val_dataloader().dataset
    for index in range(len(dataset)):
        item = dataset[index]
        page = {"bw": to_uint8(item["A"]), "name": item.get("name")}
        if "B_truth" in item:
            page["truth"] = to_uint8(item["B_truth"])
        if "labels" in item:
            page["labels"] = item["labels"].numpy().astype(np.uint8)
        pages.append(page)
    return pages


def training_pages(layout: DataLayout, domain: str, mode: str, limit: int) -> list[np.ndarray]:
    """Up to `limit` pages of training domain "A" (B/W) or "B" (color), ROOT/trainA|trainB or that half of the mixed
    folder, spread over the set rather than its first chapter."""
    refs = layout.train_pages(domain)
    step = max(1, len(refs) // limit)
    return [read_page(ref, mode, max_pixels=layout.max_pixels, limits=layout.limits) for ref in refs[::step][:limit]]


def evaluate(cfg: DictConfig, sheet: Path | None = None) -> dict[str, dict[str, float]]:
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("validate")
    pages = test_pages(datamodule)
    color_pages = training_pages(datamodule.layout, "B", "RGB", cfg.baseline_fit_pages)
    meta = getattr(datamodule, "meta", None)

    colorizer = load_colorizer(cfg.ckpt, arch=arch_overrides(cfg.get("arch")))
    device = resolve_device(cfg.device)
    bw = [p["bw"] for p in pages]
    raw = list(colorize_pages(colorizer, bw, "raw", device, cfg.precision, working_size=cfg.working_size))
    # Unpaired B/W pages calibrate screentone density against luma; no test page is seen.
    lookup = ToneLookup().fit(color_pages, bw_pages=training_pages(datamodule.layout, "A", "L", cfg.baseline_fit_pages))
    methods = {
        # What predict's "flat" mode gives.
        "model": [flat_color(p, c, cfg.flat_regions, cfg.close_gaps, cfg.split_tones, cfg.split_colors)
                  for p, c in zip(bw, raw)],
        "model lines": [transfer_chroma(p, c) for p, c in zip(bw, raw)],
        # The generator's own RGB, brought to page size to be compared with the truth.
        "model raw": [cv2.resize(c, p.shape[::-1], interpolation=cv2.INTER_CUBIC) for c, p in zip(raw, bw)],
        "gray copy": [gray_copy(p["bw"]) for p in pages],
        "tone lookup": [lookup.apply(p["bw"]) for p in pages],
    }
    extra, subsets = {}, {}
    if cfg.hints is not None or cfg.reference:
        settings = InferenceSettings(device=device, precision=cfg.precision, working_size=cfg.working_size,
                                     close_gaps=cfg.close_gaps, split_tones=cfg.split_tones,
                                     split_colors=cfg.split_colors)
        seen = hints.see_pages(colorizer, bw, settings)
    if cfg.hints is not None:
        if meta is None or not all("labels" in p for p in pages):
            raise ValueError("hints=N simulates a reader on a paired test set (truth and labels): use data=synthetic")
        name = f"model + {cfg.hints} hints"
        methods[name], extra[name] = simulate(seen, [p["labels"] for p in pages], meta, cfg.hints)
    if cfg.reference:
        references = read_references(cfg.reference, OutputOptions())
        anchors = hints.reference_anchors(colorizer, references, settings)
        # A page whose truth is given as a reference (the same file stem, or the same pixels) would be scored
        # against itself: left out of both rows.
        stems = {Path(name).stem for name in references}
        others = [i for i, p in enumerate(pages) if Path(str(p.get("name"))).stem not in stems
                  and not any("truth" in p and np.array_equal(p["truth"], r) for r in references.values())]
        painted = [hints.paint(seen[i], hints.colors_of(hints.assign(seen[i], str(i), anchors))) for i in others]
        methods["model, the reference's other pages"] = [methods["model"][i] for i in others]
        methods["model + reference"] = painted
        subsets = {name: others for name in ("model, the reference's other pages", "model + reference")}
        extra["model + reference"] = {"reference_regions": len(anchors), "pages": len(others)}
    if sheet is not None:
        columns = {"B/W input": bw, **{k: methods[k] for k in ("model", "model raw", "tone lookup")}}
        if all("truth" in p for p in pages):
            columns["truth"] = [p["truth"] for p in pages]
        write_png(sheet, contact_sheet(columns, cfg.sheet_pages))
    return {
        name: score_pages([{**pages[i], "pred": pred} for i, pred in zip(subsets.get(name, range(len(pages))), preds)],
                          meta=meta, references=color_pages) | extra.get(name, {})
        for name, preds in methods.items()
    }


def write_png(path: Path, image: np.ndarray) -> None:
    """An RGB PNG, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"could not encode the contact sheet {path}")
    atomic_write_bytes(path, data.tobytes())


def run(cfg: DictConfig) -> dict[str, dict[str, float]]:
    """The command: check the config, score, print the table, write the json and the contact sheet."""
    check_config(cfg, EvaluateConfig, hint=f"\n{config_hint('-m manga_cyclegan.evaluate')}")
    check_config(cfg.data, DataConfig, prefix="data.")
    sheet = Path(cfg.sheet) if cfg.sheet else (Path(cfg.json).with_suffix(".png") if cfg.json else None)
    table = evaluate(cfg, sheet)
    print(f"Evaluation of {cfg.ckpt} on {cfg.data.root}\n")
    print(format_table(table))
    if sheet is not None:
        print(f"\nContact sheet: {sheet}")
    if cfg.json:
        report = {"ckpt": str(cfg.ckpt), "data": str(cfg.data.root), "scores": table}
        atomic_write_bytes(Path(cfg.json), json.dumps(report, indent=2).encode())
        print(f"\nWrote {cfg.json}")
    return table
