"""Scoring colorized pages and showing them: shared by validation during training and the evaluate command."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from manga_cyclegan.evaluate import metrics
from manga_cyclegan.color import ink_mask


def score_pages(pages: Sequence[dict], meta: dict | None = None, references: Sequence[np.ndarray] | None = None) -> dict:
    """Metrics of colorized pages.

    Each page is a dict with "pred" (uint8 HxWx3) and "bw" (uint8 HxW, the input), and for a paired test set
    "truth" (uint8 HxWx3) and "labels" (uint8 HxW). With truth, labels and the set's `meta` (palette, character
    parts) all metrics are computed; otherwise the unpaired ones against color `references` (real color pages),
    or only ink fidelity (against the input's ink lines, :func:`ink_mask`) when there are none.
    """
    preds = [p["pred"] for p in pages]
    bw = [p["bw"] for p in pages]
    if meta is not None and all("truth" in p and "labels" in p for p in pages):
        scores = metrics.evaluate_paired(preds, [p["truth"] for p in pages], bw, [p["labels"] for p in pages], meta)
        if references:
            scores["ab_hist_dist"] = metrics.ab_histogram_distance(preds, references)
        return scores
    inks = [ink_mask(page) for page in bw]
    if references:
        return metrics.evaluate_unpaired(preds, references, input_inks=inks)
    return {"ink_f1": metrics.ink_fidelity(preds, inks)}


def contact_sheet(columns: dict[str, list[np.ndarray]], n_pages: int, gap: int = 4) -> np.ndarray:
    """One row per page, one column per named list of pages (uint8 HxW or HxWx3, page-sized), a header of names."""
    names = list(columns)
    rows = []
    for i in range(min(n_pages, len(columns[names[0]]))):
        cells = [np.repeat(c[i][..., None], 3, -1) if c[i].ndim == 2 else c[i] for c in (columns[n] for n in names)]
        height = max(c.shape[0] for c in cells)
        cells = [np.pad(c, ((0, height - c.shape[0]), (0, 0), (0, 0)), constant_values=255) for c in cells]
        rows.append(np.concatenate([x for c in cells for x in (c, np.full((height, gap, 3), 128, np.uint8))][:-1], 1))
    if not rows:
        return np.full((1, 1, 3), 255, np.uint8)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    header = np.full((24, width, 3), 255, np.uint8)
    cell = (rows[0].shape[1] + gap) // len(names)
    for k, name in enumerate(names):
        cv2.putText(header, name, (k * cell + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    sep = np.full((gap, width, 3), 128, np.uint8)
    return np.concatenate([header] + [x for r in rows for x in (r, sep)][:-1], 0)
