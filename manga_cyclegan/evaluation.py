"""Scoring colorized pages: one function shared by validation during training and the evaluate command."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from manga_cyclegan import metrics
from manga_cyclegan.baselines import ink_mask


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
