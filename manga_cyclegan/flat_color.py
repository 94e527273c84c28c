"""Flat color: a printed page as a colorist leaves it, screentone gone, ink lines and lettering kept.

`flat_color(bw, color)` takes the B/W page at full resolution and the generator's colors at any size:

1. the colors are brought to the page's size (they hold no screen dots: the generator paints flat colors, as the
   color pages it learned from have), leaving the generator's own ink pixels out of the interpolation
   (normalized convolution), so that the color of a region next to a line is not darkened by the line;
2. the page's own ink lines and lettering (:func:`ink_mask`) are painted pure black over them at full
   resolution, whatever the working size was.

`python benchmarks/flat_output.py` compares these choices (and the ink settings) on a trained model.
"""

from __future__ import annotations

import cv2
import numpy as np

from manga_cyclegan.baselines import ink_mask

# ink_mask for the flat output: Gaussian sigma 2 px (a screen period blurred away), the lighter side of a line
# looked for within 11 px, a line darker than 0.6 of it, and lines next to tones down to 50 of 255.
INK_SETTINGS = {"sigma": 2.0, "size": 11, "ratio": 0.6, "min_background": 50.0}
INK_RGB = (0, 0, 0)
# The generator's pixels darker than this (luma) are its ink: left out when its colors are resized.
INK_LUMA = 64


def page_ink(bw: np.ndarray) -> np.ndarray:
    """Boolean mask of the ink lines and lettering of a uint8 HxW B/W page, as the flat output paints them."""
    return ink_mask(bw, **INK_SETTINGS)


def flat_color(bw: np.ndarray, color: np.ndarray) -> np.ndarray:
    """uint8 HxW B/W page + uint8 hxwx3 colors (any size) -> uint8 HxWx3 page: the colors, the page's ink."""
    out = resize_without_ink(color, bw.shape)
    out[page_ink(bw)] = INK_RGB
    return out


def resize_without_ink(color: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 hxwx3 colors -> uint8 HxWx3, bilinear over the pixels that are not ink (luma >= INK_LUMA); where
    every neighbour is ink, plain bilinear."""
    size = (shape[1], shape[0])
    weight = (cv2.cvtColor(color, cv2.COLOR_RGB2GRAY) >= INK_LUMA).astype(np.float32)
    plain = cv2.resize(color, size, interpolation=cv2.INTER_LINEAR)
    if weight.all():
        return plain
    total = cv2.resize(color.astype(np.float32) * weight[..., None], size, interpolation=cv2.INTER_LINEAR)
    share = cv2.resize(weight, size, interpolation=cv2.INTER_LINEAR)[..., None]
    colored = total / np.maximum(share, 1e-3)
    return np.where(share > 1e-3, np.clip(np.rint(colored), 0, 255), plain).astype(np.uint8)
