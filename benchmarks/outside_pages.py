"""The flat output on pages that are not from the synthetic set: does white stay white?

    python benchmarks/outside_pages.py CKPT [--json out.json]

Draws a page the synthetic set never makes (`outside_page`: 1001x777, outlined ellipses, one with a gap in its
outline, lettered balloons, a dot-screen band, a lettered box), colorizes it with predict's default flat output
and the region options in turn, and prints for each:

- `white_dark_%`: the share of the input's white pixels (luma >= 250, ink and the screens' light gaps excluded)
  that come out with L* < 40;
- `balloon_L*`: the mean L* of the balloons' white insides (lettering excluded);
- `paper_chroma`: the mean chroma (C*ab) of the white paper outside every shape, 0 for untinted paper.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manga_cyclegan.color import rgb_to_lab  # noqa: E402
from manga_cyclegan.colorize.colorizer import colorize_pages  # noqa: E402
from manga_cyclegan.colorize.flat import page_ink  # noqa: E402
from manga_cyclegan.colorize.weights import load_colorizer  # noqa: E402

VARIANTS = {
    "regions, predict's default (no gap closing, no tone split)": dict(close_gaps=0, split_tones=False),
    "gap closing only": dict(close_gaps=2, split_tones=False),
    "tone split only": dict(close_gaps=0, split_tones=True),
    "both": dict(close_gaps=2, split_tones=True),
    "no regions (flat_regions=false)": dict(flat_regions=False),
}


def outside_page(height: int = 777, width: int = 1001) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(page, balloon insides, open paper, screened): a uint8 B/W page, two boolean masks of what must stay white,
    and where a screen was drawn (its light gaps are not white paper)."""
    page = np.full((height, width), 255, np.uint8)
    balloons = np.zeros_like(page, bool)
    for cx, cy in ((180, 150), (560, 120)):
        inside = np.zeros_like(page)
        cv2.ellipse(inside, (cx, cy), (120, 70), 0, 0, 360, 1, -1)
        balloons |= inside > 0
        cv2.ellipse(page, (cx, cy), (120, 70), 0, 0, 360, 0, 2)
        for row in range(3):  # lettering
            cv2.putText(page, "HEY THERE", (cx - 80, cy - 20 + 22 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 2)
    # A dot-screen band across the page, touching the shapes below it.
    y, x = np.mgrid[300:420, 0:width]
    page[300:420][(y % 6 < 2) & (x % 6 < 2)] = 0
    # Outlined ellipses on paper, one with a 3 px gap in its outline, one screened inside.
    cv2.ellipse(page, (250, 560), (130, 90), 0, 0, 360, 0, 2)
    cv2.ellipse(page, (600, 580), (150, 100), 0, 10, 350, 0, 2)  # the gap at the right end
    screen = np.zeros_like(page)
    cv2.ellipse(screen, (880, 560), (90, 140), 0, 0, 360, 1, -1)
    page[(screen > 0) & (np.mgrid[0:height, 0:width][0] % 4 < 2) & (np.mgrid[0:height, 0:width][1] % 4 < 2)] = 0
    screened = screen > 0
    screened[300:420] = True
    cv2.ellipse(page, (880, 560), (90, 140), 0, 0, 360, 0, 2)
    # A lettered box.
    cv2.rectangle(page, (700, 60), (960, 240), 0, 2)
    cv2.putText(page, "BOOM", (740, 170), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 0, 4)
    shapes = np.zeros_like(page)
    for mask in (balloons,):
        shapes[mask] = 1
    shapes[250:440] = 1
    cv2.ellipse(shapes, (250, 560), (135, 95), 0, 0, 360, 1, -1)
    cv2.ellipse(shapes, (600, 580), (155, 105), 0, 0, 360, 1, -1)
    cv2.ellipse(shapes, (880, 560), (95, 145), 0, 0, 360, 1, -1)
    cv2.rectangle(shapes, (690, 50), (970, 250), 1, -1)
    paper = (shapes == 0) & (page == 255)
    return page, balloons & (page == 255), paper, screened


def measure(out: np.ndarray, page: np.ndarray, balloons: np.ndarray, paper: np.ndarray, screened: np.ndarray) -> dict:
    lab = rgb_to_lab(out)
    white = (page >= 250) & ~page_ink(page) & ~screened
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    return {"white_dark_%": 100 * float((lab[..., 0][white] < 40).mean()),
            "balloon_L*": float(lab[..., 0][balloons & ~page_ink(page)].mean()),
            "paper_chroma": float(chroma[paper].mean())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ckpt", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--save", type=Path, help="write the page and each variant's output as PNGs here")
    args = parser.parse_args(argv)
    colorizer = load_colorizer(args.ckpt)
    page, balloons, paper, screened = outside_page()
    rows = {}
    for name, options in VARIANTS.items():
        out = next(colorize_pages(colorizer, [page], "flat", **options))
        rows[name] = measure(out, page, balloons, paper, screened)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(args.save / f"{len(rows)}.png"), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    if args.save:
        cv2.imwrite(str(args.save / "page.png"), page)
    print(f"{'variant':52s} {'white_dark_%':>13s} {'balloon_L*':>11s} {'paper_chroma':>13s}")
    for name, m in rows.items():
        print(f"{name:52s} {m['white_dark_%']:13.3f} {m['balloon_L*']:11.2f} {m['paper_chroma']:13.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
