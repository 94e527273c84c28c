"""Scoring colorized pages: all metrics of a paired test set, the unpaired ones, and the choice between them
(shared by validation during training and the evaluate command).

Per-page metrics (PSNR, SSIM, mean ΔE00, colorfulness) are averaged with equal weight per page; region metrics
pool the regions of all pages (`manga_cyclegan.evaluate.regions`); ink fidelity pools its pixel counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Mapping

import numpy as np

from manga_cyclegan.color import checked_page, ciede2000, ink_mask, rgb_to_lab
from manga_cyclegan.evaluate.ink import ink_fidelity, ink_of
from manga_cyclegan.evaluate.inputs import (
    gray_pages,
    rgb_pages,
    same_length,
    same_size,
)
from manga_cyclegan.evaluate.metrics import (
    ab_histogram_distance,
    colorfulness,
    psnr,
    ssim,
)
from manga_cyclegan.evaluate.regions import (
    character_accuracy,
    consistency_of,
    environment_ids,
    palette_from_meta,
    region_stats,
)


def evaluate_paired(
    preds: Any,
    truths: Any,
    bw_inputs: Any,
    labels: Any,
    meta: Mapping[str, Any],
    min_region_px: int = 16,
    shade_factor: float | None = None,
) -> dict[str, float]:
    """All paired metrics on a synthetic test set (pred vs known truth).

    Returns ``{"psnr" ↑, "ssim" ↑, "ciede2000" ↓, "char_color_acc" ↑, "env_color_acc" ↑,
    "consistency" ↓, "ink_f1" ↑, "colorfulness" ≈}``; ``env_color_acc`` scores the settings' regions (sky, sea,
    ground, rooms) as ``char_color_acc`` scores the character parts. Per-page metrics are
    page means; ``char_color_acc`` pools regions over pages; ``consistency``
    averages over character-part classes. ``meta`` supplies
    ``character_parts`` and ``palette`` (see :func:`palette_from_meta`), and
    optionally ``shade_factor`` (used when the argument is None; see
    :func:`manga_cyclegan.evaluate.regions.character_accuracy`). ``ink_f1`` is :func:`ink_fidelity`
    against the truth's ink.
    """
    P, T = rgb_pages(preds), rgb_pages(truths)
    B, L = gray_pages(bw_inputs), gray_pages(labels)
    n = same_length(("preds", P), ("truths", T), ("bw_inputs", B), ("labels", L))
    if n == 0:
        raise ValueError("evaluate_paired: no pages")
    palette, part_ids = palette_from_meta(meta)
    if shade_factor is None and meta.get("shade_factor") is not None:
        shade_factor = float(meta["shade_factor"])

    ps, ss, de, cf, labs = [], [], [], [], []
    for i in range(n):
        p, t = checked_page(P[i], 3, "pred", convert=True), checked_page(T[i], 3, "truth", convert=True)
        b = checked_page(B[i], 1, "bw", convert=True)
        if p.shape != t.shape:
            raise ValueError(f"page {i}: pred {p.shape} and truth {t.shape} differ")
        same_size(p, b, f"page {i} bw")
        lab_p = rgb_to_lab(p)
        ps.append(psnr(p, t))
        ss.append(ssim(p, t))
        de.append(float(ciede2000(lab_p, rgb_to_lab(t)).mean(dtype=np.float64)))
        cf.append(colorfulness(p))
        labs.append(lab_p)

    stats = region_stats(labs, L, part_ids, min_region_px)
    # Settings are scored like character parts, among the settings' own palette colors (they have no cel shadow);
    # a set whose meta names no settings with palette colors gets no env_color_acc.
    settings = [i for i in environment_ids(meta) if i in palette]
    env = ({"env_color_acc": character_accuracy(region_stats(labs, L, settings, min_region_px), palette, settings)}
           if settings else {})
    return {
        "psnr": float(np.mean(ps)),
        "ssim": float(np.mean(ss)),
        "ciede2000": float(np.mean(de)),
        "char_color_acc": character_accuracy(stats, palette, part_ids, shade_factor),
        **env,
        "consistency": consistency_of(stats),
        "ink_f1": ink_fidelity(P, [ink_of(t) for t in T]),
        "colorfulness": float(np.mean(cf)),
    }


def evaluate_unpaired(
    preds: Any, references: Any, input_inks: Any = None, bins: int = 32
) -> dict[str, float]:
    """Metrics that need no truth: ``{"colorfulness" ≈, "ab_hist_dist" ↓}``, + ``"ink_f1" ↑`` if ``input_inks``
    (boolean ink masks of the B/W inputs) are given.

    ``references`` are real color pages (any number, any sizes, unpaired).
    Compare ``colorfulness`` with ``colorfulness`` of the references.
    """
    P = rgb_pages(preds)
    if not P:
        raise ValueError("evaluate_unpaired: no pages")
    out = {
        "colorfulness": float(np.mean([colorfulness(p) for p in P])),
        "ab_hist_dist": ab_histogram_distance(P, references, bins=bins),
    }
    if input_inks is not None:
        out["ink_f1"] = ink_fidelity(P, input_inks)
    return out


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
        scores = evaluate_paired(preds, [p["truth"] for p in pages], bw, [p["labels"] for p in pages], meta)
        if references:
            scores["ab_hist_dist"] = ab_histogram_distance(preds, references)
        return scores
    inks = [ink_mask(page) for page in bw]
    if references:
        return evaluate_unpaired(preds, references, input_inks=inks)
    return {"ink_f1": ink_fidelity(preds, inks)}
