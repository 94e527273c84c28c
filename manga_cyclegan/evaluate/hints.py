"""A simulated reader for the hints: on a synthetic test split taken as one chapter, click the character parts the
model colors wrong, once each, with the truth's color, and score the chapter again.

`python -m manga_cyclegan.evaluate ckpt=... hints=N` runs it (`simulate`): for up to N character parts, those with
the most wrongly colored regions first, one click on the first page where the part appears (the deepest pixel of
its largest piece), with the part's flat palette color. It reports the evaluation's metrics over the whole split
with those clicks, the clicks used, and the spill: the share of the regions a hint changed that belong to another
part (a region belongs to the class most of its pixels have).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from manga_cyclegan.colorize import hints
from manga_cyclegan.color import rgb_to_lab
from manga_cyclegan.evaluate.regions import character_accuracy, palette_from_meta, region_stats


def region_truth(regions: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, purity) per region id of a page's flat regions: the label class most of its pixels have, and their
    share."""
    n = int(regions.max()) + 1
    classes = int(labels.max()) + 1
    counts = np.bincount(regions.ravel() * classes + labels.ravel(), minlength=n * classes).reshape(n, classes)
    owner = counts.argmax(axis=1)
    purity = counts.max(axis=1) / np.maximum(counts.sum(axis=1), 1)
    owner[0] = -1
    return owner, purity


def click_for_part(label_maps: Sequence[np.ndarray], part: int, min_px: int = 16) -> tuple[int, tuple[int, int]] | None:
    """(page index, (row, col)): where a reader clicks to fix `part`: the first page with a piece of at least
    `min_px` pixels, the pixel farthest from the edge of its largest piece. None if the part never appears."""
    for index, labels in enumerate(label_maps):
        pieces, n = ndimage.label(labels == part)
        if n == 0:
            continue
        sizes = np.bincount(pieces.ravel(), minlength=n + 1)
        sizes[0] = 0
        if sizes.max() < min_px:
            continue
        piece = pieces == sizes.argmax()
        depth = ndimage.distance_transform_edt(piece)
        row, col = np.unravel_index(depth.argmax(), depth.shape)
        return index, (int(row), int(col))
    return None


def wrong_parts(preds: Sequence[np.ndarray], label_maps: Sequence[np.ndarray], meta: dict) -> list[int]:
    """The character parts with at least one wrongly colored region, the most wrong regions first."""
    palette, parts = palette_from_meta(meta)
    shade = meta.get("shade_factor")
    stats = region_stats([rgb_to_lab(p) for p in preds], label_maps, parts)
    wrong = {}
    for part in parts:
        mine = stats["class_id"] == part
        if not mine.any():
            continue
        sub = {k: v[mine] for k, v in stats.items()}
        accuracy = character_accuracy(sub, palette, parts, shade)
        wrong[part] = round((1 - accuracy) * int(mine.sum()))
    return [p for p in sorted(wrong, key=lambda p: -wrong[p]) if wrong[p] > 0]


def reader_clicks(seen: Sequence[hints.SeenPage], label_maps: Sequence[np.ndarray], meta: dict,
                  clicks: int) -> list[tuple[hints.Click, int]]:
    """The simulated reader's clicks (pages named by their index) and the part each fixes."""
    palette, _ = palette_from_meta(meta)
    out = []
    for part in wrong_parts([s.flat.image for s in seen], label_maps, meta)[:clicks]:
        where = click_for_part(label_maps, part)
        if where is not None:
            page, (row, col) = where
            out.append((hints.Click(str(page), col, row, tuple(int(c) for c in palette[part])), part))
    return out


def simulate(seen: Sequence[hints.SeenPage], label_maps: Sequence[np.ndarray], meta: dict, clicks: int,
             descriptor: str = hints.DESCRIPTOR, threshold: float | None = None) -> tuple[list[np.ndarray], dict]:
    """The chapter's pages with up to `clicks` hints applied, and {"hint_clicks", "hint_spill", "hint_regions"}."""
    chosen = reader_clicks(seen, label_maps, meta, clicks)
    anchors = [hints.anchor(click, seen[int(click.page)], descriptor) for click, _ in chosen]
    part_of = {id(a): part for a, (_, part) in zip(anchors, chosen)}
    pages, changed, spilled = [], 0, 0
    for index, (page, labels) in enumerate(zip(seen, label_maps)):
        taken = hints.assign(page, str(index), anchors, descriptor, threshold)
        owner, _ = region_truth(page.regions, labels)
        changed += len(taken)
        spilled += sum(int(owner[region] != part_of[id(a)]) for region, a in taken.items())
        pages.append(hints.paint(page, hints.colors_of(taken)))
    return pages, {"hint_clicks": len(anchors), "hint_spill": spilled / max(changed, 1), "hint_regions": changed}
