"""At what scale a page's content is drawn: the width of its ink strokes.

The colorizer learned characters at one scale; a page's pixel count alone does not say at which scale its own are
drawn (a bigger page may hold more panels at the same scale, or the same page at a higher resolution). The ink
lines do: `stroke_width` is the mean thickness of a page's ink strokes, each ink pixel's shorter run (horizontal
or vertical) through the ink, leaving out solid black areas (runs longer than MAX_STROKE on both axes). Training
records the strokes it learned at (`learned_stroke_width`: the training pages' stroke width times the scale they
were shrunk by), and `working_size=auto` never shrinks a page so far that its strokes come out thinner than those
(`manga_cyclegan.colorize.colorizer.working_shape`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage

from manga_cyclegan.colorize.flat import page_ink

# Runs longer than this on both axes are solid black (hair, night skies), not strokes.
MAX_STROKE = 12
# Fewer stroke pixels than this and a page has no lines to measure (a blank page, a photo).
MIN_STROKE_PIXELS = 200


def run_lengths(mask: np.ndarray, axis: int) -> np.ndarray:
    """For every True pixel, the length of the run of True pixels along `axis` it belongs to (0 elsewhere)."""
    structure = np.zeros((3, 3), bool)
    structure[1, :] = True
    if axis == 0:
        structure = structure.T
    labels, n = ndimage.label(mask, structure=structure)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return sizes[labels]


def stroke_width(bw: np.ndarray) -> float | None:
    """Mean stroke width in pixels of a uint8 HxW B/W page's ink (see the module docstring); None without lines."""
    ink = page_ink(bw)
    widths = np.minimum(run_lengths(ink, 0), run_lengths(ink, 1))[ink]
    widths = widths[widths <= MAX_STROKE]
    return float(widths.mean()) if widths.size >= MIN_STROKE_PIXELS else None


def learned_stroke_width(pages: Iterable[np.ndarray], short_side: int | None) -> float | None:
    """The stroke width (in working pixels) a colorizer trained on these B/W pages, shrunk to `short_side` (None:
    native), saw: the median over pages of their stroke width times their shrink factor."""
    widths = []
    for page in pages:
        width = stroke_width(page)
        if width is not None:
            widths.append(width * min(1.0, short_side / min(page.shape)) if short_side else width)
    return float(np.median(widths)) if widths else None
