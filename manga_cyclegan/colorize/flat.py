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

Regions that hold (`flat_regions`; the first two are options, off by default: measured to lose environment
accuracy on every synthetic page set):
- `close_gaps` (ball radius in pixels, trapped-ball filling as line-art flat-fillers do): regions are seeded where
  a ball of that radius fits between the ink lines, so an outline with a gap narrower than the ball does not merge
  two regions; the pixels near the lines go to the nearest seed of their own enclosed area, and areas too narrow
  for the ball keep their own region;
- `split_tones`: paper (light pixels with no screen dot near them, `paper`) and screened areas never share a
  region, so an empty balloon or the paper is not tinted by the screen beside it;
- `split_colors`: a region inside which the generator paints two clearly different colors (a face and the sea
  behind an outline with a gap) is split between them (`split_by_color`) before the medians;
- paper is never filled dark (L* < DARK_LIGHTNESS): it stays paper white (whatever the regions).
`regions=False` (predict's `flat_regions=false`) keeps the generator's colors per pixel.

`python benchmarks/flat_output.py` compares these choices (and the ink settings) on a trained model.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from manga_cyclegan.color import INK_LUMA, ink_mask, lightness, luma

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
# Up to this many regions, their medians come from per-region histograms (256 counts each), else from a sort.
HISTOGRAM_REGIONS = 1 << 16
# Regions that hold, off by default: both lost environment accuracy on every page set (benchmarks/results/
# quality.md, rows demo-regions, demo-gaps-only, demo-tones-only). CLOSE_GAPS: the ball radius in pixels (2 closes
# outline gaps up to about 4 px); SPLIT_TONES: paper and screened areas in separate regions.
CLOSE_GAPS = 0
SPLIT_TONES = False
# split_colors: regions of at least SPLIT_MIN_PX pixels whose generator colors form two clusters at least
# SPLIT_DELTA_E apart (CIE76), the smaller holding at least SPLIT_SHARE of the region, become two regions.
SPLIT_COLORS = False
SPLIT_MIN_PX = 64
SPLIT_DELTA_E = 20.0
SPLIT_SHARE = 0.15
# Paper: input luma at least this, no screen dot within PAPER_CLEARANCE px; never filled darker than DARK_LIGHTNESS
# (CIE L*).
WHITE_LUMA = 235
PAPER_CLEARANCE = 2
DARK_LIGHTNESS = 40.0
PAPER_RGB = (255, 255, 255)


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


@dataclass
class FlatPage:
    """A page in flat colors and how it was made: `image` (uint8 HxWx3), the page's `ink` (bool HxW) and the
    `regions` filled with one color each (int32 HxW, 0: ink; None when filled pixel by pixel)."""

    image: np.ndarray
    ink: np.ndarray
    regions: np.ndarray | None


def flatten(bw: np.ndarray, color: np.ndarray, regions: bool = True, close_gaps: int = CLOSE_GAPS,
            split_tones: bool = SPLIT_TONES, split_colors: bool = SPLIT_COLORS) -> FlatPage:
    """uint8 HxW B/W page + uint8 hxwx3 colors (any size) -> the flat page: the colors (one per region enclosed by
    ink if `regions`, see `page_regions`), the page's ink in black."""
    out = resize_without_ink(color, bw.shape)
    ink = page_ink(bw)
    labels = page_regions(bw, ink, close_gaps, split_tones) if regions else None
    if labels is not None and split_colors:
        labels = split_by_color(out, labels)
    if labels is not None:
        out = region_medians(out, ink, labels)
    out = keep_paper_white(out, bw, ink)
    out[ink] = INK_RGB
    return FlatPage(out, ink, labels)


def flat_color(bw: np.ndarray, color: np.ndarray, regions: bool = True, close_gaps: int = CLOSE_GAPS,
               split_tones: bool = SPLIT_TONES, split_colors: bool = SPLIT_COLORS) -> np.ndarray:
    """The image of `flatten`: uint8 HxWx3."""
    return flatten(bw, color, regions, close_gaps, split_tones, split_colors).image


def paper(bw: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """Where the page is white paper: light pixels (>= WHITE_LUMA) with no screen dot (a dark pixel that is not
    ink) within PAPER_CLEARANCE pixels; the light gaps between a screen's dots are not paper."""
    dots = (bw < 128) & ~ink
    size = 2 * PAPER_CLEARANCE + 1
    near_dots = cv2.dilate(dots.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
    return (bw >= WHITE_LUMA) & ~near_dots & ~ink


def page_regions(bw: np.ndarray, ink: np.ndarray, close_gaps: int = CLOSE_GAPS,
                 split_tones: bool = SPLIT_TONES) -> np.ndarray:
    """int32 HxW region labels (0: ink) of a page: the 4-connected areas its ink encloses, with the gap closing and
    the tone split of the module docstring."""
    free = ~ink
    _, areas = cv2.connectedComponents(free.astype(np.uint8), connectivity=4)
    if close_gaps <= 0 and not split_tones:  # the default: the enclosed areas themselves
        return areas.astype(np.int32)
    white = paper(bw, ink)
    kinds = [white, free & ~white] if split_tones else [free]
    ball = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * close_gaps + 1,) * 2) if close_gaps > 0 else None
    labels, count = np.zeros(bw.shape, np.int32), 0
    for kind in kinds:
        # Seeds: where the ball fits inside this kind of area.
        seeds = kind if ball is None else cv2.erode(kind.astype(np.uint8), ball, borderType=cv2.BORDER_REPLICATE) > 0
        n, seed_labels = cv2.connectedComponents(seeds.astype(np.uint8), connectivity=4)
        labels[seeds] = seed_labels[seeds] + count
        count += n - 1
        # Areas of this kind the ball never fits in keep a region of their own.
        n, kind_labels = cv2.connectedComponents(kind.astype(np.uint8), connectivity=4)
        seeded = np.zeros(n, bool)
        seeded[np.unique(kind_labels[seeds])] = True
        lone = kind & ~seeded[kind_labels]
        labels[lone] = kind_labels[lone] + count
        count += n
    # The rest (near the lines) joins the nearest labeled pixel of its own enclosed area.
    rest = free & (labels == 0)
    if rest.any() and (labels > 0).any():
        _, (rows, cols) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
        nearest = labels[rows, cols]
        same_area = areas[rows, cols] == areas
        labels[rest & same_area] = nearest[rest & same_area]
        orphans = free & (labels == 0)  # nearest seed across a line: the area's own label
        labels[orphans] = areas[orphans] + count
    return labels


def split_by_color(color: np.ndarray, labels: np.ndarray, min_px: int = SPLIT_MIN_PX,
                   delta_e: float = SPLIT_DELTA_E, share: float = SPLIT_SHARE) -> np.ndarray:
    """int32 region labels (0: ink) with every region whose colors (uint8 HxWx3, page size) disagree split in two:
    a 2-means of its pixels' CIELAB colors (started from the 10th and 90th percentile along their main axis) whose
    centers are at least `delta_e` apart and whose smaller cluster holds at least `share` of its `min_px`+ pixels.
    The pixels of the smaller cluster take a new label."""
    lab = cv2.cvtColor(color.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    out = labels.copy()
    next_label = int(labels.max()) + 1
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        inside = labels[box] == index
        if inside.sum() < min_px:
            continue
        points = lab[box][inside].astype(np.float64)
        smaller = _two_clusters(points, delta_e, share)
        if smaller is not None:
            region = out[box]
            rows, cols = np.nonzero(inside)
            region[rows[smaller], cols[smaller]] = next_label
            next_label += 1
    return out


def _two_clusters(points: np.ndarray, delta_e: float, share: float, iterations: int = 8) -> np.ndarray | None:
    """Boolean mask of the smaller of two clusters of Nx3 `points`, or None where they do not split (centers
    closer than `delta_e`, or the smaller cluster under `share` of the points)."""
    centered = points - points.mean(axis=0)
    axis = np.linalg.svd(centered[:: max(1, len(points) // 2048)], full_matrices=False)[2][0]
    projection = centered @ axis
    low, high = np.percentile(projection, [10, 90])
    if high - low < delta_e / 2:  # too narrow a spread to hold two colors delta_e apart
        return None
    centers = np.stack([points[np.argmin(np.abs(projection - low))], points[np.argmin(np.abs(projection - high))]])
    for _ in range(iterations):
        second = ((points - centers[1]) ** 2).sum(1) < ((points - centers[0]) ** 2).sum(1)
        if second.all() or not second.any():
            return None
        centers = np.stack([points[~second].mean(axis=0), points[second].mean(axis=0)])
    if np.linalg.norm(centers[0] - centers[1]) < delta_e or min(second.mean(), 1 - second.mean()) < share:
        return None
    return second if second.mean() <= 0.5 else ~second


def region_medians(color: np.ndarray, ink: np.ndarray, labels: np.ndarray | None = None,
                   min_px: int = MIN_REGION_PX) -> np.ndarray:
    """Each region (`labels` > 0; default: the 4-connected components of ~ink) of at least `min_px` pixels filled
    with the per-channel median of `color` over it; ink pixels and smaller regions keep their colors."""
    if labels is None:
        _, labels = cv2.connectedComponents((~ink).astype(np.uint8), connectivity=4)
    labels = np.where(ink, 0, labels)
    n = int(labels.max()) + 1
    area = np.bincount(labels.ravel(), minlength=n)
    regions = np.flatnonzero(area >= min_px)
    regions = regions[regions > 0]  # label 0 is the ink
    out = color.copy()
    if len(regions) == 0:
        return out
    table = np.zeros((n, 3), np.uint8)
    for channel in range(3):
        table[regions, channel] = _medians(color[..., channel], labels, regions, area[regions])
    filled = np.zeros(n, bool)
    filled[regions] = True
    where = filled[labels] & ~ink
    out[where] = table[labels[where]]
    return out


def _medians(values: np.ndarray, labels: np.ndarray, regions: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The median of uint8 `values` over each of `regions` (ids in `labels`; `counts`: their pixel counts), as
    scipy.ndimage.median gives it (the mean of the two middle values for an even count), rounded half to even:
    from one 256-bin histogram per region rather than a sort of the page (a sort past HISTOGRAM_REGIONS regions,
    where the histograms would outgrow the page)."""
    if len(regions) > HISTOGRAM_REGIONS:
        return np.rint(ndimage.median(values, labels=labels, index=regions)).astype(np.uint8)
    compact = np.full(int(labels.max()) + 1, len(regions), np.int64)  # other labels: one bin row, dropped
    compact[regions] = np.arange(len(regions))
    rows = compact[labels.ravel()] * 256 + values.ravel()
    histograms = np.bincount(rows, minlength=(len(regions) + 1) * 256).reshape(-1, 256)[: len(regions)]
    cumulative = np.cumsum(histograms, axis=1)
    low = np.argmax(cumulative > ((counts - 1) // 2)[:, None], axis=1)
    high = np.argmax(cumulative > (counts // 2)[:, None], axis=1)
    return np.rint((low + high) / 2).astype(np.uint8)


def keep_paper_white(out: np.ndarray, bw: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """Paper pixels of the input (`paper`) that came out dark (L* < DARK_LIGHTNESS) are paper white."""
    white = paper(bw, ink)
    if white.any():
        fix = np.zeros_like(white)
        fix[white] = lightness(out[white]) < DARK_LIGHTNESS
        out[fix] = PAPER_RGB
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
