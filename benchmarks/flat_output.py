"""How the flat output's ink settings score on a trained model's colors (synthetic test split).

    python benchmarks/flat_output.py --ckpt outputs/.../last.ckpt [--json rows.json]

The generator runs once per page (predict's default working size); every row then builds the output from the
same colors with other `ink_mask` settings, and is scored by the evaluation's own code. "no ink" is the colors
alone, resized to the page; "lines" is predict's `mode=lines` for comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manga_cyclegan.color import ink_mask, local_tone, transfer_chroma  # noqa: E402
from manga_cyclegan.colorize.colorizer import colorize_pages  # noqa: E402
from manga_cyclegan.colorize.flat import (  # noqa: E402
    INK_SETTINGS,
    flat_color,
    region_medians,
    resize_without_ink,
)
from manga_cyclegan.colorize.weights import load_colorizer  # noqa: E402
from manga_cyclegan.data.synthetic import ensure_synthetic_set  # noqa: E402
from manga_cyclegan.evaluate.report import format_table  # noqa: E402
from manga_cyclegan.evaluate.scoring import score_pages  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {
    "default": INK_SETTINGS,
    "sigma 1.5, ratio 0.5": {"sigma": 1.5, "size": 7, "ratio": 0.5, "min_background": 50.0},
    "sigma 2, ratio 0.6": {"sigma": 2.0, "size": 11, "ratio": 0.6, "min_background": 50.0},
    "ink_mask defaults": {},
}


def test_split(root: Path) -> list[dict]:
    from PIL import Image

    meta = json.loads((root / "meta.json").read_text())
    pages = []
    for path in sorted((root / "testA").glob("*.png")):
        pages.append({"bw": np.asarray(Image.open(path)), "truth": np.asarray(Image.open(root / "testB" / path.name)),
                      "labels": np.asarray(Image.open(root / "testLabels" / path.name))})
    return pages, meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--data", type=Path, default=REPO / "data" / "synthetic")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not (args.data / "meta.json").exists():  # the default set, made once as training makes it
        ensure_synthetic_set(args.data)
    pages, meta = test_split(args.data)
    colorizer = load_colorizer(args.ckpt)
    colors = list(colorize_pages(colorizer, [p["bw"] for p in pages], "raw"))
    rows = {"no ink": [cv2.resize(c, p["bw"].shape[::-1], interpolation=cv2.INTER_LINEAR) for p, c in zip(pages, colors)]}
    for name, settings in VARIANTS.items():
        rows[f"ink: {name}"] = [np.where(ink_mask(p["bw"], **settings)[..., None], 0, up).astype(np.uint8)
                                for p, up in zip(pages, rows["no ink"])]
    for name, settings in VARIANTS.items():
        rows[f"ink-free resize + ink: {name}"] = [
            np.where(ink_mask(p["bw"], **settings)[..., None], 0, resize_without_ink(c, p["bw"].shape)).astype(np.uint8)
            for p, c in zip(pages, colors)]
    for blur in (8, 12):
        rows[f"tone {blur}px + chroma + ink: default"] = [
            np.where(ink_mask(p["bw"], **INK_SETTINGS)[..., None], 0, transfer_chroma(
                local_tone(p["bw"], blur).round().clip(0, 255).astype(np.uint8), c)).astype(np.uint8)
            for p, c in zip(pages, colors)]
    for name, separator in (("ink_mask sigma 1.5, ratio 0.7", {"sigma": 1.5, "size": 9, "ratio": 0.7, "min_background": 50.0}),
                            ("flat ink", INK_SETTINGS)):
        rows[f"region medians ({name})"] = [
            np.where(ink[..., None], 0, region_medians(resize_without_ink(c, p["bw"].shape), ink)).astype(np.uint8)
            for p, c in zip(pages, colors) for ink in [ink_mask(p["bw"], **separator)]]
    rows["flat_color (predict's default)"] = [flat_color(p["bw"], c) for p, c in zip(pages, colors)]
    rows["lines"] = [transfer_chroma(p["bw"], c) for p, c in zip(pages, colors)]
    table = {name: score_pages([{**p, "pred": pred} for p, pred in zip(pages, preds)], meta=meta)
             for name, preds in rows.items()}
    print(f"Flat output variants for {args.ckpt} on {args.data} ({len(pages)} test pages)\n")
    print(format_table(table))
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
