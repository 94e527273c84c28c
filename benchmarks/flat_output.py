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

from manga_cyclegan.baselines import ink_mask, local_tone  # noqa: E402
from manga_cyclegan.data.synthetic import ensure_synthetic_set  # noqa: E402
from manga_cyclegan.evaluation import score_pages  # noqa: E402
from manga_cyclegan.flat_color import INK_SETTINGS, flat_color  # noqa: E402
from manga_cyclegan.inference import colorize_pages, load_colorizer, transfer_chroma  # noqa: E402
from manga_cyclegan.metrics import format_table  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {
    "default": INK_SETTINGS,
    "sigma 1.5, ratio 0.5": {"sigma": 1.5, "size": 7, "ratio": 0.5, "min_background": 50.0},
    "sigma 2, ratio 0.6": {"sigma": 2.0, "size": 11, "ratio": 0.6, "min_background": 50.0},
    "ink_mask defaults": {},
}


def resize_without_ink(color: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The colors resized with the generator's own ink pixels left out of the interpolation (normalized
    convolution), so a region's color next to a line is not darkened by the line."""
    luma = cv2.cvtColor(color, cv2.COLOR_RGB2GRAY)
    weight = (luma >= 64).astype(np.float32)
    size = shape[::-1]
    num = cv2.resize(color.astype(np.float32) * weight[..., None], size, interpolation=cv2.INTER_LINEAR)
    den = cv2.resize(weight, size, interpolation=cv2.INTER_LINEAR)[..., None]
    plain = cv2.resize(color, size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return np.where(den > 1e-3, num / np.maximum(den, 1e-3), plain).round().clip(0, 255).astype(np.uint8)


def region_medians(bw: np.ndarray, color: np.ndarray, separator: dict, min_px: int = 12) -> np.ndarray:
    """Every region enclosed by ink (components of the page without `ink_mask(bw, **separator)`) takes the
    per-channel median of `color` over it; ink pixels and regions under `min_px` keep their colors."""
    from scipy import ndimage

    ink = ink_mask(bw, **separator)
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~ink).astype(np.uint8), connectivity=4)
    out = color.copy()
    big = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_px)
    big = big[big > 0]
    if len(big) == 0:
        return out
    lut = np.zeros((n, 3), np.uint8)
    for channel in range(3):
        lut[big, channel] = np.rint(ndimage.median(color[..., channel], labels=labels, index=big)).astype(np.uint8)
    keep = np.zeros(n, bool)
    keep[big] = True
    mask = keep[labels] & ~ink
    out[mask] = lut[labels[mask]]
    return out


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
        rows[f"region medians ({name})"] = [region_medians(p["bw"], flat_color(p["bw"], c), separator)
                                            for p, c in zip(pages, colors)]
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
