"""Flat color: a printed page as a colorist leaves it, screentone gone, ink lines and lettering kept.

`flat_color(bw, color)` takes the B/W page at full resolution and the generator's colors at any size: the colors
are brought to the page's size (they hold no screen dots: the generator paints flat colors, as the color pages
it learned from have), and the page's own ink (:func:`ink_mask`) is painted pure black over them at full
resolution, whatever the working size was.

The ink settings favour precision: a screen dot taken for ink would be a black speck in a flat color, and it
would darken the color of a small region, while a line pixel missed is mostly dark in the generator's colors
anyway. `python benchmarks/flat_output.py` measures the choice.
"""

from __future__ import annotations

import cv2
import numpy as np

from manga_cyclegan.baselines import ink_mask

# ink_mask for the flat output: Gaussian sigma 2.5 px (a screen period blurred away), the lighter side of a
# line looked for within 7 px, a line darker than 0.6 of it, and lines next to tones down to 50 of 255.
INK_SETTINGS = {"sigma": 2.5, "size": 7, "ratio": 0.6, "min_background": 50.0}
INK_RGB = (0, 0, 0)


def page_ink(bw: np.ndarray) -> np.ndarray:
    """Boolean mask of the ink lines and lettering of a uint8 HxW B/W page, as the flat output paints them."""
    return ink_mask(bw, **INK_SETTINGS)


def flat_color(bw: np.ndarray, color: np.ndarray) -> np.ndarray:
    """uint8 HxW B/W page + uint8 hxwx3 colors (any size) -> uint8 HxWx3 page: the colors, the page's ink."""
    h, w = bw.shape
    if color.shape[:2] != (h, w):
        color = cv2.resize(color, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.array(color, dtype=np.uint8, copy=True)
    out[page_ink(bw)] = INK_RGB
    return out
