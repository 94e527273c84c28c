"""Colorization metrics for manga pages (all numpy, CPU, no downloads).

Conventions
-----------
* Images are numpy arrays. RGB pages are ``uint8`` ``HxWx3`` (sRGB); grayscale
  pages (B/W inputs, label maps) are ``uint8`` ``HxW`` (``HxWx1`` is accepted).
  Float RGB/gray input is accepted where noted if it lies in ``[0, 1]``; it is
  converted with ``round(x * 255)``. Floats outside ``[0, 1]`` raise
  ``ValueError`` (convert ``[-1, 1]`` network outputs yourself).
* "Lists of pages" may be any sequence of arrays (pages may differ in size) or
  one stacked array (``NxHxWx3`` for RGB, ``NxHxW`` for gray/labels).
* Per-page metrics (PSNR, SSIM, mean ΔE00, line SSIM, colorfulness) are
  averaged with equal weight per page by :func:`evaluate_paired` /
  :func:`evaluate_unpaired`. Region metrics pool regions over all pages.
* Direction of each metric (``↑`` higher is better, ``↓`` lower is better,
  ``≈`` closer to real color pages is better) is in :data:`METRIC_DIRECTION`.

Color science: sRGB with D65 white, CIE 1976 L*a*b*, CIEDE2000 after Sharma,
Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation
notes, supplementary test data, and mathematical observations".
Luma is Rec.601 (0.299 R + 0.587 G + 0.114 B), the same as OpenCV/PIL "L".
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
from scipy import ndimage

from manga_cyclegan.color import INK_LUMA, ciede2000, luma_float, rgb_to_lab

__all__ = [
    "METRIC_DIRECTION",
    "psnr",
    "ssim",
    "mean_ciede2000",
    "region_mean_colors",
    "character_color_accuracy",
    "character_color_report",
    "consistency_spread",
    "ink_fidelity",
    "ink_of",
    "colorfulness",
    "ab_histogram",
    "ab_histogram_distance",
    "evaluate_paired",
    "evaluate_unpaired",
    "format_table",
    "palette_from_meta",
]

#: Which direction is better for each metric key produced by the evaluators.
#: ``≈`` means "closer to the value of real color pages is better" (a fully
#: saturated random image is very colorful but not a better colorization).
METRIC_DIRECTION: dict[str, str] = {
    "psnr": "↑",
    "ssim": "↑",
    "ciede2000": "↓",
    "char_color_acc": "↑",
    "consistency": "↓",
    "ink_f1": "↑",
    "colorfulness": "≈",
    "ab_hist_dist": "↓",
}

PSNR_MAX_DB = 100.0  # cap for identical images (MSE == 0) so page means stay finite

# ----------------------------------------------------------------------------
# input helpers
# ----------------------------------------------------------------------------


def _to_uint8(x: Any, name: str = "image") -> np.ndarray:
    a = np.asarray(x)
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        if a.size and (np.nanmin(a) < -1e-6 or np.nanmax(a) > 1 + 1e-6):
            raise ValueError(
                f"{name}: float images must be in [0, 1] (got range "
                f"[{np.nanmin(a):.3g}, {np.nanmax(a):.3g}]); pass uint8 instead"
            )
        return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        if a.size and (a.min() < 0 or a.max() > 255):
            raise ValueError(f"{name}: integer images must be in [0, 255]")
        return a.astype(np.uint8)
    raise TypeError(f"{name}: unsupported dtype {a.dtype}")


def _rgb(x: Any, name: str = "rgb") -> np.ndarray:
    """uint8 HxWx3; a 2-D gray page is replicated to 3 channels."""
    a = _to_uint8(x, name)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"{name}: expected HxWx3 RGB, got shape {a.shape}")
    return a


def _gray(x: Any, name: str = "gray") -> np.ndarray:
    a = _to_uint8(x, name)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise ValueError(f"{name}: expected HxW gray image, got shape {a.shape}")
    return a


def _labels(x: Any, name: str = "labels") -> np.ndarray:
    a = np.asarray(x)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise ValueError(f"{name}: expected HxW label map, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name}: label map must be an integer array")
    return a


def _rgb_pages(x: Any) -> list:
    if isinstance(x, np.ndarray):
        if x.ndim == 4:
            return list(x)
        if x.ndim == 3 and x.shape[-1] == 3:
            return [x]
    return list(x)


def _gray_pages(x: Any) -> list:
    if isinstance(x, np.ndarray):
        if x.ndim == 3 and x.shape[-1] != 1:
            return list(x)
        if x.ndim == 2 or (x.ndim == 3 and x.shape[-1] == 1):
            return [x]
        if x.ndim == 4:
            return list(x)
    return list(x)


def _check_len(*named: tuple[str, list]) -> int:
    n = {len(v) for _, v in named}
    if len(n) != 1:
        raise ValueError("page lists differ in length: " + ", ".join(f"{k}={len(v)}" for k, v in named))
    return n.pop()


def _check_same_hw(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.shape[:2] != b.shape[:2]:
        raise ValueError(f"{what}: page sizes differ {a.shape[:2]} vs {b.shape[:2]}")


# ----------------------------------------------------------------------------
# per-page fidelity metrics
# ----------------------------------------------------------------------------


def psnr(pred: Any, truth: Any, data_range: float = 255.0, max_db: float | None = PSNR_MAX_DB) -> float:
    """PSNR in dB over all RGB values of one page. ↑ higher is better.

    ``10 log10(data_range² / MSE)``. Identical pages (MSE = 0) give ``max_db``
    (100 dB by default; every result is capped there so page means stay
    finite); pass ``max_db=None`` to get ``inf`` instead.
    """
    p = _to_uint8(pred, "pred").astype(np.float64)
    t = _to_uint8(truth, "truth").astype(np.float64)
    if p.shape != t.shape:
        raise ValueError(f"psnr: shapes differ {p.shape} vs {t.shape}")
    mse = float(np.mean((p - t) ** 2))
    val = math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)
    return val if max_db is None else min(val, max_db)


def ssim(pred: Any, truth: Any, data_range: float = 255.0, win_size: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM (Wang et al. 2004) of one page, gray or RGB. ↑ higher is better, 1 = identical.

    Gaussian window 11x11, σ = 1.5, K1 = 0.01, K2 = 0.03, data range 255,
    computed per channel and averaged over all pixels and channels, with
    reflect-101 border padding (same convention and values as
    ``torchmetrics.functional.structural_similarity_index_measure``).
    """
    p = _to_uint8(pred, "pred")
    t = _to_uint8(truth, "truth")
    if p.shape != t.shape:
        raise ValueError(f"ssim: shapes differ {p.shape} vs {t.shape}")
    m = _ssim_map(p.astype(np.float32), t.astype(np.float32), data_range, win_size, sigma)
    return float(m.mean(dtype=np.float64))


def _ssim_map(x: np.ndarray, y: np.ndarray, data_range: float, win: int, sigma: float) -> np.ndarray:
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2

    def blur(a: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(a, (win, win), sigma, borderType=cv2.BORDER_REFLECT_101)

    mx, my = blur(x), blur(y)
    mxx, myy, mxy = mx * mx, my * my, mx * my
    sxx = np.maximum(blur(x * x) - mxx, 0.0)
    syy = np.maximum(blur(y * y) - myy, 0.0)
    sxy = blur(x * y) - mxy
    return ((2.0 * mxy + c1) * (2.0 * sxy + c2)) / ((mxx + myy + c1) * (sxx + syy + c2))


def mean_ciede2000(pred: Any, truth: Any) -> float:
    """Mean per-pixel CIEDE2000 ΔE00 between a predicted and a true RGB page. ↓ lower is better."""
    p, t = _rgb(pred, "pred"), _rgb(truth, "truth")
    _check_same_hw(p, t, "mean_ciede2000")
    return float(ciede2000(rgb_to_lab(p), rgb_to_lab(t)).mean())


def colorfulness(rgb: Any) -> float:
    """Hasler & Süsstrunk (2003) colorfulness M of one RGB page (0..255 scale).

    ``rg = R - G``, ``yb = (R + G)/2 - B``;
    ``M = sqrt(σ_rg² + σ_yb²) + 0.3 sqrt(μ_rg² + μ_yb²)``. 0 for any gray
    image; ~15 "slightly", ~33 "moderately", ~59 "quite", ~82 "highly" colorful.
    ``≈``: compare with the value of real color pages (higher is not always better).
    """
    a = _rgb(rgb).reshape(-1, 3).astype(np.float64)
    rg = a[:, 0] - a[:, 1]
    yb = 0.5 * (a[:, 0] + a[:, 1]) - a[:, 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))




def ink_of(rgb: Any) -> np.ndarray:
    """Boolean ink mask of a color page: luma below :data:`INK_LUMA` (colored manga's ink is near black)."""
    return luma_float(_rgb(rgb, "page")) < INK_LUMA


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
    P = _rgb_pages(preds)
    masks = [np.asarray(m, bool) for m in true_inks]
    _check_len(("preds", P), ("true_inks", masks))
    total = np.zeros(4, np.int64)
    for p, m in zip(P, masks):
        p = _rgb(p, "pred")
        if p.shape[:2] != m.shape:
            raise ValueError(f"ink_fidelity: prediction {p.shape[:2]} and ink mask {m.shape} differ in size")
        total += _ink_counts(ink_of(p), m, tolerance)
    if total[1] == 0 and total[3] == 0:
        return float("nan")
    precision = total[0] / total[1] if total[1] else 0.0
    recall = total[2] / total[3] if total[3] else 0.0
    return float(2 * precision * recall / (precision + recall)) if precision + recall > 0 else 0.0


# ----------------------------------------------------------------------------
# character-region metrics
# ----------------------------------------------------------------------------


def palette_from_meta(meta: Mapping[str, Any]) -> tuple[dict[int, tuple[int, int, int]], list[int]]:
    """``(palette, part_ids)`` from a test-set ``meta`` dict (palette keys are str ids)."""
    palette = {int(k): tuple(int(c) for c in v) for k, v in meta["palette"].items()}
    part_ids = [int(c) for c in meta["character_parts"]]
    return palette, part_ids


def _region_stats_page(
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


def _region_stats_from_labs(labs, labels, part_ids, min_region_px) -> dict[str, np.ndarray]:
    classes, means, sizes, pages = [], [], [], []
    for i, (lab, lbl) in enumerate(zip(labs, labels)):
        lbl = _labels(lbl)
        if lab.shape[:2] != lbl.shape:
            raise ValueError(f"page {i}: prediction {lab.shape[:2]} and label map {lbl.shape} differ in size")
        c, m, s = _region_stats_page(lab, lbl, part_ids, min_region_px)
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


def region_mean_colors(
    preds: Any, labels: Any, part_ids: Sequence[int], min_region_px: int = 16
) -> dict[str, np.ndarray]:
    """Regions = 4-connected components of each character-part class per page.

    Components smaller than ``min_region_px`` pixels are ignored. Returns arrays
    over regions: ``class_id`` (R,), ``mean_lab`` (R, 3) = mean of the
    predicted pixels' Lab values, ``size`` (R,) in pixels, ``page`` (R,).
    """
    P, L = _rgb_pages(preds), _gray_pages(labels)
    _check_len(("preds", P), ("labels", L))
    labs = (rgb_to_lab(_rgb(p, "pred")) for p in P)
    return _region_stats_from_labs(labs, L, [int(c) for c in part_ids], min_region_px)


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


def _char_report_from_stats(stats, palette, part_ids, shade_factor: float | None = None) -> dict[str, Any]:
    part_ids = [int(c) for c in part_ids]
    cand_lab, owner = _palette_candidates(palette, part_ids, shade_factor)
    cls = stats["class_id"]
    n = len(cls)
    k = len(part_ids)
    confusion = np.zeros((k, k), dtype=np.int64)
    per_class = {c: {"correct": 0, "total": 0, "accuracy": float("nan")} for c in part_ids}
    if n == 0:
        return {"accuracy": float("nan"), "n_regions": 0, "per_class": per_class,
                "confusion": confusion, "part_ids": part_ids}
    dc = ciede2000(stats["mean_lab"][:, None, :], cand_lab[None, :, :])  # (R, candidates)
    d = np.full((n, k), np.inf)
    for j in range(dc.shape[1]):  # distance to a class = to its nearest candidate
        d[:, owner[j]] = np.minimum(d[:, owner[j]], dc[:, j])
    pos = {c: i for i, c in enumerate(part_ids)}
    own = np.array([pos[c] for c in cls])
    own_d = d[np.arange(n), own]
    # Correct when the own class is (one of) the nearest palette entries.
    correct = own_d <= d.min(axis=1) + 1e-9
    nearest = np.where(correct, own, d.argmin(axis=1))
    np.add.at(confusion, (own, nearest), 1)
    for c in part_ids:
        sel = cls == c
        tot = int(sel.sum())
        cor = int(correct[sel].sum())
        per_class[c] = {"correct": cor, "total": tot, "accuracy": cor / tot if tot else float("nan")}
    return {
        "accuracy": float(correct.mean()),
        "n_regions": int(n),
        "per_class": per_class,
        "confusion": confusion,
        "part_ids": part_ids,
    }


def character_color_report(
    preds: Any,
    labels: Any,
    palette: Mapping[Any, Any],
    part_ids: Sequence[int],
    min_region_px: int = 16,
    shade_factor: float | None = None,
) -> dict[str, Any]:
    """Per-class breakdown of :func:`character_color_accuracy`.

    Returns ``{"accuracy": float, "n_regions": int, "per_class": {id:
    {"correct", "total", "accuracy"}}, "confusion": KxK int array (rows = true
    class, cols = nearest palette class, ordered as part_ids), "part_ids": [...]}``.
    """
    stats = region_mean_colors(preds, labels, part_ids, min_region_px)
    return _char_report_from_stats(stats, palette, part_ids, shade_factor)


def character_color_accuracy(
    preds: Any,
    labels: Any,
    palette: Mapping[Any, Any],
    part_ids: Sequence[int],
    min_region_px: int = 16,
    shade_factor: float | None = None,
) -> float:
    """Share of character-part regions colored with their own palette color. ↑ higher is better.

    Regions are the 4-connected components (``scipy.ndimage.label``) of each
    character-part class in each page's label map; components smaller than
    ``min_region_px`` are ignored. A region's color is the mean of its
    predicted pixels in Lab. It counts as correct if, among the palette colors
    of all ``part_ids``, the nearest by CIEDE2000 is its own class (ties
    count as correct). Pooled over all regions of all pages; ``nan`` if there
    is no region. ``palette`` maps id (int or str) → RGB 0..255.

    ``shade_factor`` (optional, e.g. 0.75 for the synthetic set's cel shadow
    ``round(rgb * 0.75)``): each class also owns its shaded palette color, so
    a region that is mostly in shadow is matched to its own class too. With
    the flat palette only, even the ground truth scores < 1 (≈ 0.94 on the
    synthetic test set) because mostly-shadowed skin/outfit regions are
    nearer another character's flat color.
    """
    return character_color_report(preds, labels, palette, part_ids, min_region_px, shade_factor)["accuracy"]


def _consistency_from_stats(stats) -> float:
    cls, means = stats["class_id"], stats["mean_lab"]
    spreads = []
    for c in np.unique(cls):
        m = means[cls == c]
        if len(m) < 2:
            continue
        center = m.mean(axis=0)
        spreads.append(float(ciede2000(m, center[None, :]).mean()))
    return float(np.mean(spreads)) if spreads else float("nan")


def consistency_spread(preds: Any, labels: Any, part_ids: Sequence[int], min_region_px: int = 16) -> float:
    """How consistently each character part is colored across panels/pages. ↓ lower is better.

    For each character-part class with ≥ 2 regions (same region definition as
    :func:`character_color_accuracy`), take the region mean colors (Lab) over
    all panels and pages, their class mean (mean of the region means in Lab),
    and the mean ΔE00 of each region mean to the class mean; the result is the
    average over those classes (equal weight per class). ``nan`` if no class
    has ≥ 2 regions. Note it does not look at the truth: a constant output
    scores 0, so read it together with ``char_color_acc``; and the truth
    itself is not 0 when regions carry different shares of cel shadow
    (≈ 2.3 on the synthetic test set).
    """
    return _consistency_from_stats(region_mean_colors(preds, labels, part_ids, min_region_px))


# ----------------------------------------------------------------------------
# unpaired distribution metric
# ----------------------------------------------------------------------------

AB_RANGE = (-128.0, 128.0)


def ab_histogram(pages: Any, bins: int = 32, ab_range: tuple[float, float] = AB_RANGE) -> np.ndarray:
    """Pooled, normalized 2-D histogram of a*, b* over all pixels of all pages (``bins x bins``, sums to 1)."""
    hist = np.zeros((bins, bins), dtype=np.float64)
    lo, hi = ab_range
    scale = bins / (hi - lo)
    for p in _rgb_pages(pages):
        lab = rgb_to_lab(_rgb(p, "page")).reshape(-1, 3)
        ia = np.clip(((lab[:, 1] - lo) * scale).astype(np.int64), 0, bins - 1)
        ib = np.clip(((lab[:, 2] - lo) * scale).astype(np.int64), 0, bins - 1)
        hist += np.bincount(ia * bins + ib, minlength=bins * bins).reshape(bins, bins)
    total = hist.sum()
    return hist / total if total > 0 else hist


def _js_distance(p: np.ndarray, q: np.ndarray) -> float:
    p = p.ravel() / p.sum()
    q = q.ravel() / q.sum()
    m = 0.5 * (p + q)

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    js = 0.5 * kl(p) + 0.5 * kl(q)
    return float(math.sqrt(min(max(js, 0.0), 1.0)))


def ab_histogram_distance(preds: Any, references: Any, bins: int = 32) -> float:
    """Jensen–Shannon distance of pooled a*b* histograms, predictions vs real color pages. ↓ lower is better.

    Histograms: ``bins x bins`` over a*, b* ∈ [-128, 128) (8 Lab units per bin
    at the default 32), pooled over all pixels of all pages (paper and ink
    included), normalized to sum 1. Distance = sqrt(JS divergence with log
    base 2), a true metric bounded in [0, 1]: 0 for identical distributions,
    1 for disjoint supports. The page sets need not be paired or equal in size.
    """
    hp = ab_histogram(preds, bins)
    hr = ab_histogram(references, bins)
    if hp.sum() == 0 or hr.sum() == 0:
        return float("nan")
    return _js_distance(hp, hr)


# ----------------------------------------------------------------------------
# aggregate evaluation
# ----------------------------------------------------------------------------


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

    Returns ``{"psnr" ↑, "ssim" ↑, "ciede2000" ↓, "char_color_acc" ↑,
    "consistency" ↓, "ink_f1" ↑, "colorfulness" ≈}``. Per-page metrics are
    page means; ``char_color_acc`` pools regions over pages; ``consistency``
    averages over character-part classes. ``meta`` supplies
    ``character_parts`` and ``palette`` (see :func:`palette_from_meta`), and
    optionally ``shade_factor`` (used when the argument is None; see
    :func:`character_color_accuracy`). ``ink_f1`` is :func:`ink_fidelity`
    against the truth's ink.
    """
    P, T = _rgb_pages(preds), _rgb_pages(truths)
    B, L = _gray_pages(bw_inputs), _gray_pages(labels)
    n = _check_len(("preds", P), ("truths", T), ("bw_inputs", B), ("labels", L))
    if n == 0:
        raise ValueError("evaluate_paired: no pages")
    palette, part_ids = palette_from_meta(meta)
    if shade_factor is None and meta.get("shade_factor") is not None:
        shade_factor = float(meta["shade_factor"])

    ps, ss, de, cf, labs = [], [], [], [], []
    for i in range(n):
        p, t = _rgb(P[i], "pred"), _rgb(T[i], "truth")
        b = _gray(B[i], "bw")
        if p.shape != t.shape:
            raise ValueError(f"page {i}: pred {p.shape} and truth {t.shape} differ")
        _check_same_hw(p, b, f"page {i} bw")
        lab_p = rgb_to_lab(p)
        ps.append(psnr(p, t))
        ss.append(ssim(p, t))
        de.append(float(ciede2000(lab_p, rgb_to_lab(t)).mean(dtype=np.float64)))
        cf.append(colorfulness(p))
        labs.append(lab_p)

    stats = _region_stats_from_labs(labs, L, part_ids, min_region_px)
    return {
        "psnr": float(np.mean(ps)),
        "ssim": float(np.mean(ss)),
        "ciede2000": float(np.mean(de)),
        "char_color_acc": _char_report_from_stats(stats, palette, part_ids, shade_factor)["accuracy"],
        "consistency": _consistency_from_stats(stats),
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
    P = _rgb_pages(preds)
    if not P:
        raise ValueError("evaluate_unpaired: no pages")
    out = {
        "colorfulness": float(np.mean([colorfulness(p) for p in P])),
        "ab_hist_dist": ab_histogram_distance(P, references, bins=bins),
    }
    if input_inks is not None:
        out["ink_f1"] = ink_fidelity(P, input_inks)
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if abs(f) >= 100:
        return f"{f:.1f}"
    if abs(f) >= 10:
        return f"{f:.2f}"
    return f"{f:.4f}" if abs(f) < 1 else f"{f:.3f}"


def format_table(rows: Mapping[str, Mapping[str, float]], directions: Mapping[str, str] | None = None) -> str:
    """Aligned text table: one row per method, one column per metric.

    Column headers carry ``↑`` (higher is better), ``↓`` (lower is better) or
    ``≈`` (closer to real color pages is better) from :data:`METRIC_DIRECTION`
    (override/extend with ``directions``). Columns are the union of metric
    names in first-seen order; missing values print as ``-``.
    """
    dirs = dict(METRIC_DIRECTION)
    if directions:
        dirs.update(directions)
    cols: list[str] = []
    for r in rows.values():
        for k in r:
            if k not in cols:
                cols.append(k)
    header = ["method"] + [f"{c} {dirs[c]}" if c in dirs else c for c in cols]
    body = [[str(name)] + [_fmt(r.get(c)) for c in cols] for name, r in rows.items()]
    widths = [max(len(row[j]) for row in [header] + body) for j in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join([cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])])

    out = [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in body]
    if any(dirs.get(c) == "≈" for c in cols):
        out.append("(↑ higher is better, ↓ lower is better, ≈ closer to real color pages is better)")
    return "\n".join(out)
