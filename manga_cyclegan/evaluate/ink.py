"""Ink fidelity: does the output keep the page's lines and lettering, and invent no dark marks of its own?"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from manga_cyclegan.color import INK_LUMA, checked_page, luma_float
from manga_cyclegan.evaluate.inputs import rgb_pages, same_length


def ink_of(rgb: Any) -> np.ndarray:
    """Boolean ink mask of a color page: luma below :data:`INK_LUMA` (colored manga's ink is near black)."""
    return luma_float(checked_page(rgb, 3, "page", convert=True)) < INK_LUMA


def _ink_counts(pred_ink: np.ndarray, true_ink: np.ndarray, tolerance: int) -> np.ndarray:
    """[predicted ink near true ink, predicted ink, true ink near predicted ink, true ink] pixel counts."""
    kernel = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
    near_true = cv2.dilate(true_ink.astype(np.uint8), kernel).astype(bool)
    near_pred = cv2.dilate(pred_ink.astype(np.uint8), kernel).astype(bool)
    return np.array([(pred_ink & near_true).sum(), pred_ink.sum(), (true_ink & near_pred).sum(), true_ink.sum()],
                    dtype=np.int64)


def ink_fidelity(preds: Any, true_inks: Any, tolerance: int = 1) -> float:
    """F1 of the output's ink against the true ink, with a tolerance of `tolerance` pixels. ↑ higher is better.

    Ink in the output is every pixel darker than :data:`INK_LUMA`. Precision: share of output ink within
    `tolerance` px of true ink (screentone dots or dark smudges the output invents lower it); recall: share of
    true ink (lines, lettering) within `tolerance` px of output ink (lines the output loses lower it). Counts
    are pooled over all pages. `true_inks` are boolean masks: on a paired set the truth's ink (:func:`ink_of`),
    on real pages the B/W input's ink lines. ``nan`` when neither has any ink.
    """
    P = rgb_pages(preds)
    masks = [np.asarray(m, bool) for m in true_inks]
    same_length(("preds", P), ("true_inks", masks))
    total = np.zeros(4, np.int64)
    for p, m in zip(P, masks):
        p = checked_page(p, 3, "pred", convert=True)
        if p.shape[:2] != m.shape:
            raise ValueError(f"ink_fidelity: prediction {p.shape[:2]} and ink mask {m.shape} differ in size")
        total += _ink_counts(ink_of(p), m, tolerance)
    if total[1] == 0 and total[3] == 0:
        return float("nan")
    precision = total[0] / total[1] if total[1] else 0.0
    recall = total[2] / total[3] if total[3] else 0.0
    return float(2 * precision * recall / (precision + recall)) if precision + recall > 0 else 0.0
