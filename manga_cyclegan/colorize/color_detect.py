"""Decide whether a page is already in colour.

Used by the DataModule's mixed-folder split and by the predict script (pages that are already
coloured are skipped). The detector must NOT call a B/W page "colour" just because the scan
is yellowed, sepia-toned or carries JPEG chroma noise, so it measures chroma *relative to the
page's own tint*:

1. The page is shrunk (INTER_AREA) so its long side is at most ``max_side``: that is fast, and
   averaging cancels JPEG chroma noise and screentone dither.
2. A 5x5 per-channel median removes thin colour fringes along ink lines (chroma subsampling
   artefacts) and isolated noise while keeping real coloured areas.
3. The tint is modelled as a function of lightness: for each CIELAB lightness bin, the median
   ``(a*, b*)`` of its pixels, median-filtered across neighbouring bins and capped at
   ``max_tint_chroma``. Yellowed paper and sepia toning are exactly such a lightness -> tint
   curve; a colour panel is not (the cap and the cross-bin median stop a panel that dominates
   its own lightness range from being explained away as tint).
4. A pixel is *coloured* when its chroma after removing the tint exceeds ``chroma_threshold``.

Known limitation: pages printed in one strong coloured ink (e.g. a blue-ink chapter opener)
exceed the tint cap and count as colour.
"""

from __future__ import annotations

import cv2
import numpy as np

from manga_cyclegan.color import checked_page, rgb_to_lab

__all__ = ["chroma_stats", "is_color_page", "DEFAULT_COLOR_THRESHOLD"]

#: Default share of coloured pixels above which a page counts as a colour page.
DEFAULT_COLOR_THRESHOLD = 0.05

_N_BINS = 10  # lightness bins of 10 L* units each
_MIN_BIN_SHARE = 0.01  # bins with fewer pixels borrow the tint of their neighbours


def chroma_stats(
    rgb: np.ndarray,
    *,
    chroma_threshold: float = 12.0,
    max_tint_chroma: float = 25.0,
    max_side: int = 512,
) -> dict[str, float]:
    """Chroma statistics of an RGB page (``HxWx3``, uint8 or float in [0, 1]).

    Returns a dict of plain floats:

    * ``colored_fraction``: share of pixels whose CIELAB chroma, after discounting the page's
      lightness-dependent tint (paper yellowing, sepia), exceeds ``chroma_threshold`` — the score
      :func:`is_color_page` thresholds;
    * ``mean_chroma``: mean raw CIELAB chroma (before tint removal);
    * ``mean_residual_chroma``: mean chroma after tint removal;
    * ``paper_a``, ``paper_b``: the tint of the lightest populated bin (the paper colour).
    """
    a8 = np.ascontiguousarray(checked_page(rgb, 3, "rgb", convert=True))
    h, w = a8.shape[:2]
    if h == 0 or w == 0:
        raise ValueError("empty image")
    s = max_side / max(h, w)
    if s < 1:
        a8 = cv2.resize(a8, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)

    raw = rgb_to_lab(a8).astype(np.float32)
    raw_chroma = np.hypot(raw[:, :, 1], raw[:, :, 2])
    if min(a8.shape[:2]) >= 5:
        # Per-channel median: removes thin colour fringes and isolated noise; and since every
        # channel of a tinted grey page is a monotone function of the grey value, the median
        # keeps such pixels exactly on the page's tint curve (a median on a*/b* alone would not).
        a8 = cv2.medianBlur(a8, 5)
        lab = rgb_to_lab(a8).astype(np.float32)
    else:
        lab = raw
    L = lab[:, :, 0]
    ca = lab[:, :, 1]
    cb = lab[:, :, 2]

    # Lightness -> tint curve (medians per bin, robust to a minority of coloured pixels).
    Lf, af, bf = L.ravel(), ca.ravel(), cb.ravel()
    idx = np.clip((Lf * (_N_BINS / 100.0)).astype(np.int64), 0, _N_BINS - 1)
    counts = np.bincount(idx, minlength=_N_BINS)
    min_count = max(1, int(_MIN_BIN_SHARE * Lf.size))
    centers = (np.arange(_N_BINS) + 0.5) * (100.0 / _N_BINS)
    ta = np.zeros(_N_BINS, np.float32)
    tb = np.zeros(_N_BINS, np.float32)
    valid = counts >= min_count
    order = np.argsort(idx, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    for k in np.flatnonzero(valid):
        sel = order[starts[k]:starts[k + 1]]
        ta[k] = np.median(af[sel])
        tb[k] = np.median(bf[sel])
    vk = np.flatnonzero(valid)
    if vk.size == 0:  # cannot happen (the bins partition the pixels), but stay total
        vk = np.array([int(np.argmax(counts))])
    # Median of each valid bin with its valid neighbours: a smooth tint curve survives, a
    # single bin taken over by one coloured panel does not.
    if vk.size >= 3:
        sa, sb = ta.copy(), tb.copy()
        for j, k in enumerate(vk):
            nb = vk[max(0, j - 1):j + 2]
            sa[k] = np.median(ta[nb])
            sb[k] = np.median(tb[nb])
        ta, tb = sa, sb
    # Cap the tint: strong colour is never "paper".
    tc = np.hypot(ta, tb)
    factor = np.where(tc > max_tint_chroma, max_tint_chroma / np.maximum(tc, 1e-6), 1.0)
    ta, tb = ta * factor, tb * factor
    # Curve over all lightness values, interpolating across sparse bins.
    tint_a = np.interp(Lf, centers[vk], ta[vk]).astype(np.float32)
    tint_b = np.interp(Lf, centers[vk], tb[vk]).astype(np.float32)

    residual = np.hypot(af - tint_a, bf - tint_b)
    paper = vk[-1]
    return {
        "colored_fraction": float(np.mean(residual > chroma_threshold)),
        "mean_chroma": float(raw_chroma.mean()),
        "mean_residual_chroma": float(residual.mean()),
        "paper_a": float(ta[paper]),
        "paper_b": float(tb[paper]),
    }


def is_color_page(rgb: np.ndarray, threshold: float = DEFAULT_COLOR_THRESHOLD, **kwargs) -> bool:
    """True when more than ``threshold`` of the page is coloured (see :func:`chroma_stats`).

    Greyscale arrays (``HxW``) are never colour. Extra keyword arguments go to
    :func:`chroma_stats`.
    """
    if np.asarray(rgb).ndim == 2:
        return False
    return chroma_stats(rgb, **kwargs)["colored_fraction"] > threshold
