"""Flat color: a printed page as a colorist leaves it, screentone gone, ink lines and lettering kept.

`flat_color(bw, color)` takes the B/W page at full resolution and the generator's colors at any size:

1. the colors are brought to the page's size (they hold no screen dots: the generator paints flat colors, as the
   color pages it learned from have), leaving the generator's own ink pixels out of the interpolation
   (normalized convolution), so that the color of a region next to a line is not darkened by the line;
2. `regions=True`: every region the page's ink encloses (a 4-connected component of the page without its ink,
   at least MIN_REGION_PX large) takes the per-channel median of those colors over it: one flat color per
   region, as a colorist fills it, so the generator's speckle and its bleed across a line are gone;
3. the page's own ink lines and lettering are painted pure black over them at full resolution, whatever the
   working size was: :func:`ink_mask` (lines, told from screen dots by their contrast once the screen is blurred
   away), and the thin strokes it misses on light paper (lettering): dark connected strokes at least
   STROKE_EXTENT px long whose surroundings are light, where a screen dot would be a lone speck.

A region whose outline has a gap is merged with its neighbour and gets one color with it: `regions=False`
(predict's `flat_regions=false`) keeps the generator's colors per pixel.

`python benchmarks/flat_output.py` compares these choices (and the ink settings) on a trained model.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from manga_cyclegan.color import INK_LUMA, ink_mask, luma

# ink_mask for the flat output: Gaussian sigma 2 px (a screen period blurred away), the lighter side of a line
# looked for within 11 px, a line darker than 0.6 of it, and lines next to tones down to 50 of 255.
INK_SETTINGS = {"sigma": 2.0, "size": 11, "ratio": 0.6, "min_background": 50.0}
INK_RGB = (0, 0, 0)
# Lettering on light paper: dark 8-connected strokes at least this many pixels long or high, whose 15x15
# surroundings average at least STROKE_PAPER (a dark screen's dots merge into large strokes, but not on light
# paper).
STROKE_EXTENT = 4
STROKE_PAPER = 170
# Regions smaller than this (pixels of the page) keep the generator's colors: too few pixels for a median.
MIN_REGION_PX = 12


def page_ink(bw: np.ndarray) -> np.ndarray:
    """Boolean mask of the ink lines and lettering of a uint8 HxW B/W page, as the flat output paints them."""
    return ink_mask(bw, **INK_SETTINGS) | strokes_on_paper(bw)


def strokes_on_paper(bw: np.ndarray) -> np.ndarray:
    """Dark pixels (< 128) of 8-connected strokes at least STROKE_EXTENT px long or high, in surroundings whose
    15x15 mean is at least STROKE_PAPER: lettering and thin lines on paper, which the line detector's blur
    loses, and not the lone dots of a light screen."""
    dark = bw < 128
    n, labels, stats, _ = cv2.connectedComponentsWithStats(dark.astype(np.uint8), connectivity=8)
    long_enough = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= STROKE_EXTENT
    long_enough[0] = False  # the background
    light = cv2.blur(bw.astype(np.float32), (15, 15), borderType=cv2.BORDER_REFLECT_101) >= STROKE_PAPER
    return long_enough[labels] & light


def flat_color(bw: np.ndarray, color: np.ndarray, regions: bool = True) -> np.ndarray:
    """uint8 HxW B/W page + uint8 hxwx3 colors (any size) -> uint8 HxWx3 page: the colors (one per region
    enclosed by ink if `regions`), the page's ink in black."""
    out = resize_without_ink(color, bw.shape)
    ink = page_ink(bw)
    if regions:
        out = region_medians(out, ink)
    out[ink] = INK_RGB
    return out


def region_medians(color: np.ndarray, ink: np.ndarray, min_px: int = MIN_REGION_PX) -> np.ndarray:
    """Each 4-connected component of ~ink of at least `min_px` pixels filled with the per-channel median of
    `color` over it; ink pixels and smaller components keep their colors."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~ink).astype(np.uint8), connectivity=4)
    regions = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_px)
    regions = regions[regions > 0]  # label 0 is the ink
    out = color.copy()
    if len(regions) == 0:
        return out
    table = np.zeros((n, 3), np.uint8)
    for channel in range(3):
        medians = ndimage.median(color[..., channel], labels=labels, index=regions)
        table[regions, channel] = np.rint(medians).astype(np.uint8)
    filled = np.zeros(n, bool)
    filled[regions] = True
    where = filled[labels] & ~ink
    out[where] = table[labels[where]]
    return out


def resize_without_ink(color: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 hxwx3 colors -> uint8 HxWx3, bilinear over the pixels that are not ink (luma >= INK_LUMA); where
    every neighbour is ink, plain bilinear."""
    size = (shape[1], shape[0])
    weight = (luma(color) >= INK_LUMA).astype(np.float32)
    plain = cv2.resize(color, size, interpolation=cv2.INTER_LINEAR)
    if weight.all():
        return plain
    total = cv2.resize(color.astype(np.float32) * weight[..., None], size, interpolation=cv2.INTER_LINEAR)
    share = cv2.resize(weight, size, interpolation=cv2.INTER_LINEAR)[..., None]
    colored = total / np.maximum(share, 1e-3)
    return np.where(share > 1e-3, np.clip(np.rint(colored), 0, 255), plain).astype(np.uint8)
