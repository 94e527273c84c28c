"""Character-region metrics: is each character part colored with its own color, and the same color everywhere?

A region is one 4-connected component (``scipy.ndimage.label``) of one character-part class in a page's label
map; components smaller than ``min_region_px`` are ignored, and a region's color is the mean Lab of its
predicted pixels. Region metrics pool the regions of all pages. The statistics of the regions are computed once
(:func:`region_stats` from Lab pages, or :func:`region_mean_colors` from RGB pages) and both metrics read them
(:func:`character_accuracy`, :func:`consistency_of`), so a caller that resamples pages does not recompute them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import ndimage

from manga_cyclegan.color import checked_page, ciede2000, rgb_to_lab
from manga_cyclegan.evaluate.inputs import (
    gray_pages,
    label_map,
    rgb_pages,
    same_length,
)

# Region statistics, one entry per region: "class_id" (R,), "mean_lab" (R, 3), "size" (R,) pixels, "page" (R,).
RegionStats = dict[str, np.ndarray]


# The classes of a test set's label map that are settings rather than characters, by their names in meta["classes"].
ENVIRONMENT_CLASSES = ("sky", "sea", "ground", "interior")


def environment_ids(meta: Mapping[str, Any]) -> list[int]:
    """The label ids of the settings (sky, sea, ground, rooms) of a test set's meta; [] if it names none."""
    return [i for i, name in enumerate(meta.get("classes", ())) if name in ENVIRONMENT_CLASSES]


def palette_from_meta(meta: Mapping[str, Any]) -> tuple[dict[int, tuple[int, int, int]], list[int]]:
    """``(palette, part_ids)`` from a test-set ``meta`` dict (palette keys are str ids)."""
    palette = {int(k): tuple(int(c) for c in v) for k, v in meta["palette"].items()}
    part_ids = [int(c) for c in meta["character_parts"]]
    return palette, part_ids


def _page_regions(
    lab: np.ndarray, label: np.ndarray, part_ids: Sequence[int], min_region_px: int
) -> tuple[list[int], list[np.ndarray], list[int]]:
    cls_out, mean_out, size_out = [], [], []
    flat_lab = lab.reshape(-1, 3)
    present = np.unique(label)
    for c in part_ids:
        if c not in present:
            continue
        mask = label == c
        comp, n = ndimage.label(mask)  # 4-connectivity
        if n == 0:
            continue
        idx = comp[mask]  # component id (1..n) of each masked pixel
        vals = flat_lab[mask.ravel()]
        size = np.bincount(idx, minlength=n + 1)[1:]
        keep = size >= min_region_px
        if not keep.any():
            continue
        sums = np.stack([np.bincount(idx, weights=vals[:, k], minlength=n + 1)[1:] for k in range(3)], axis=1)
        means = sums[keep] / size[keep, None]
        cls_out.extend([int(c)] * int(keep.sum()))
        mean_out.append(means)
        size_out.extend(size[keep].tolist())
    return cls_out, mean_out, size_out


def region_stats(
    labs: Iterable[np.ndarray], labels: Sequence[Any], part_ids: Sequence[int], min_region_px: int = 16
) -> RegionStats:
    """The regions of Lab pages (HxWx3 float, e.g. ``rgb_to_lab`` of the predictions) and their label maps."""
    classes, means, sizes, pages = [], [], [], []
    for i, (lab, lbl) in enumerate(zip(labs, labels)):
        lbl = label_map(lbl)
        if lab.shape[:2] != lbl.shape:
            raise ValueError(f"page {i}: prediction {lab.shape[:2]} and label map {lbl.shape} differ in size")
        c, m, s = _page_regions(lab, lbl, part_ids, min_region_px)
        classes.extend(c)
        means.extend(m)
        sizes.extend(s)
        pages.extend([i] * len(c))
    return {
        "class_id": np.asarray(classes, dtype=np.int64),
        "mean_lab": np.concatenate(means, axis=0) if means else np.zeros((0, 3)),
        "size": np.asarray(sizes, dtype=np.int64),
        "page": np.asarray(pages, dtype=np.int64),
    }


def region_mean_colors(preds: Any, labels: Any, part_ids: Sequence[int], min_region_px: int = 16) -> RegionStats:
    """Regions = 4-connected components of each character-part class per page.

    Components smaller than ``min_region_px`` pixels are ignored. Returns arrays
    over regions: ``class_id`` (R,), ``mean_lab`` (R, 3) = mean of the
    predicted pixels' Lab values, ``size`` (R,) in pixels, ``page`` (R,).
    """
    P, L = rgb_pages(preds), gray_pages(labels)
    same_length(("preds", P), ("labels", L))
    labs = (rgb_to_lab(checked_page(p, 3, "pred", convert=True)) for p in P)
    return region_stats(labs, L, [int(c) for c in part_ids], min_region_px)


def _palette_candidates(
    palette: Mapping[Any, Any], part_ids: Sequence[int], shade_factor: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Lab of the candidate colors and the index (into part_ids) of the class each belongs to."""
    pal = {int(k): v for k, v in palette.items()}
    missing = [c for c in part_ids if c not in pal]
    if missing:
        raise KeyError(f"palette has no color for character-part ids {missing}")
    rgb = np.array([pal[c] for c in part_ids], dtype=np.float64)  # 0..255
    owner = np.arange(len(part_ids))
    if shade_factor is not None:
        rgb = np.concatenate([rgb, rgb * float(shade_factor)], axis=0)
        owner = np.concatenate([owner, owner])
    return rgb_to_lab(np.clip(np.rint(rgb), 0, 255).astype(np.uint8)), owner


def character_accuracy(
    stats: RegionStats, palette: Mapping[Any, Any], part_ids: Sequence[int], shade_factor: float | None = None
) -> float:
    """Share of character-part regions (already measured: :func:`region_stats`) colored with their own palette
    color. ↑ higher is better.

    A region (see the module docstring) counts as correct if, among the palette colors of all ``part_ids``, the
    nearest to its mean color by CIEDE2000 is its own class (ties count as correct). Pooled over all regions of
    all pages; ``nan`` if there is no region. ``palette`` maps id (int or str) → RGB 0..255.

    ``shade_factor`` (optional, e.g. 0.75 for the synthetic set's cel shadow ``round(rgb * 0.75)``): each class
    also owns its shaded palette color, so a region that is mostly in shadow is matched to its own class too.
    With the flat palette only, even the ground truth scores < 1, because mostly-shadowed skin/outfit regions are
    nearer another character's flat color.
    """
    part_ids = [int(c) for c in part_ids]
    cand_lab, owner = _palette_candidates(palette, part_ids, shade_factor)
    cls = stats["class_id"]
    n = len(cls)
    if n == 0:
        return float("nan")
    dc = ciede2000(stats["mean_lab"][:, None, :], cand_lab[None, :, :])  # (R, candidates)
    d = np.full((n, len(part_ids)), np.inf)
    for j in range(dc.shape[1]):  # distance to a class = to its nearest candidate
        d[:, owner[j]] = np.minimum(d[:, owner[j]], dc[:, j])
    pos = {c: i for i, c in enumerate(part_ids)}
    own_d = d[np.arange(n), [pos[c] for c in cls]]
    # Correct when the own class is (one of) the nearest palette entries.
    return float((own_d <= d.min(axis=1) + 1e-9).mean())


def consistency_of(stats: RegionStats) -> float:
    """How consistently each character part is colored across panels/pages, from regions already measured
    (:func:`region_stats`). ↓ lower is better.

    For each character-part class with ≥ 2 regions, take the region mean colors (Lab) over all panels and pages,
    their class mean (mean of the region means in Lab), and the mean ΔE00 of each region mean to the class mean;
    the result is the average over those classes (equal weight per class). ``nan`` if no class has ≥ 2 regions.
    Note it does not look at the truth: a constant output scores 0, so read it together with ``char_color_acc``;
    and the truth itself is not 0 when regions carry different shares of cel shadow.
    """
    cls, means = stats["class_id"], stats["mean_lab"]
    spreads = []
    for c in np.unique(cls):
        m = means[cls == c]
        if len(m) < 2:
            continue
        center = m.mean(axis=0)
        spreads.append(float(ciede2000(m, center[None, :]).mean()))
    return float(np.mean(spreads)) if spreads else float("nan")
