"""Per-page fidelity of a colorization, and how its colors are distributed (all numpy, CPU, no downloads).

Pages are as `manga_cyclegan.evaluate.inputs` describes them. PSNR and SSIM are scikit-image's, the a*b*
histogram distance is SciPy's Jensen-Shannon; Lab and CIEDE2000 come from `manga_cyclegan.color`. The
direction of every metric the evaluators report (``↑`` higher is better, ``↓`` lower is better, ``≈`` closer to
real color pages is better) is in :data:`METRIC_DIRECTION`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.spatial.distance import jensenshannon
from skimage.metrics import peak_signal_noise_ratio
from torchmetrics.functional.image import structural_similarity_index_measure

from manga_cyclegan.color import as_uint8, checked_page, ciede2000, rgb_to_lab
from manga_cyclegan.evaluate.inputs import rgb_pages, same_size

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
AB_RANGE = (-128.0, 128.0)


def _pair(pred: Any, truth: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    p, t = as_uint8(pred, "pred"), as_uint8(truth, "truth")
    if p.shape != t.shape:
        raise ValueError(f"{what}: shapes differ {p.shape} vs {t.shape}")
    return p, t


def psnr(pred: Any, truth: Any, data_range: float = 255.0, max_db: float | None = PSNR_MAX_DB) -> float:
    """PSNR in dB over all values of one page (``skimage.metrics.peak_signal_noise_ratio``). ↑ higher is better.

    ``10 log10(data_range² / MSE)``. Identical pages (MSE = 0) give ``max_db`` (every result is capped there so
    page means stay finite); pass ``max_db=None`` to get ``inf`` instead.
    """
    p, t = _pair(pred, truth, "psnr")
    with np.errstate(divide="ignore"):  # MSE = 0: inf, then the cap
        val = float(peak_signal_noise_ratio(t, p, data_range=data_range))
    return val if max_db is None else min(val, max_db)


def ssim(pred: Any, truth: Any, data_range: float = 255.0, sigma: float = 1.5) -> float:
    """Mean SSIM of one page, gray or RGB (Wang et al. 2004). ↑ higher is better, 1 = identical.

    torchmetrics' `structural_similarity_index_measure` with Wang et al.'s settings: Gaussian window σ = 1.5
    (11 x 11), K1 = 0.01, K2 = 0.03; per channel, averaged over channels and every pixel (borders reflected).
    Every pixel counts, so a page's white margins do too: the convention every committed SSIM figure uses.
    """
    p, t = _pair(pred, truth, "ssim")

    def nchw(a: np.ndarray) -> torch.Tensor:
        # float32 in [0, 1]: float64 convolutions are far slower, and on 0..255 float32 loses the variances.
        x = torch.from_numpy(np.ascontiguousarray(a)).float() / data_range
        return x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]

    return float(structural_similarity_index_measure(nchw(p), nchw(t), gaussian_kernel=True, sigma=sigma,
                                                     kernel_size=11, data_range=1.0))


def mean_ciede2000(pred: Any, truth: Any) -> float:
    """Mean per-pixel CIEDE2000 ΔE00 between a predicted and a true RGB page. ↓ lower is better."""
    p, t = checked_page(pred, 3, "pred", convert=True), checked_page(truth, 3, "truth", convert=True)
    same_size(p, t, "mean_ciede2000")
    return float(ciede2000(rgb_to_lab(p), rgb_to_lab(t)).mean(dtype=np.float64))


def colorfulness(rgb: Any) -> float:
    """Hasler & Süsstrunk (2003) colorfulness M of one RGB page (0..255 scale).

    ``rg = R - G``, ``yb = (R + G)/2 - B``;
    ``M = sqrt(σ_rg² + σ_yb²) + 0.3 sqrt(μ_rg² + μ_yb²)``. 0 for any gray
    image; on their scale ~15 is "slightly", ~33 "moderately", ~59 "quite", ~82 "highly" colorful.
    ``≈``: compare with the value of real color pages (higher is not always better).
    """
    a = checked_page(rgb, 3, "rgb", convert=True).reshape(-1, 3).astype(np.float64)
    rg = a[:, 0] - a[:, 1]
    yb = 0.5 * (a[:, 0] + a[:, 1]) - a[:, 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def ab_histogram(pages: Any, bins: int = 32, ab_range: tuple[float, float] = AB_RANGE) -> np.ndarray:
    """Pooled, normalized 2-D histogram of a*, b* over all pixels of all pages (``bins x bins``, sums to 1)."""
    hist = np.zeros((bins, bins), dtype=np.float64)
    lo, hi = ab_range
    scale = bins / (hi - lo)
    for p in rgb_pages(pages):
        lab = rgb_to_lab(checked_page(p, 3, "page", convert=True)).reshape(-1, 3)
        ia = np.clip(((lab[:, 1] - lo) * scale).astype(np.int64), 0, bins - 1)
        ib = np.clip(((lab[:, 2] - lo) * scale).astype(np.int64), 0, bins - 1)
        hist += np.bincount(ia * bins + ib, minlength=bins * bins).reshape(bins, bins)
    total = hist.sum()
    return hist / total if total > 0 else hist


def ab_histogram_distance(preds: Any, references: Any, bins: int = 32) -> float:
    """Jensen–Shannon distance of pooled a*b* histograms, predictions vs real color pages. ↓ lower is better.

    Histograms: ``bins x bins`` over a*, b* ∈ [-128, 128) (8 Lab units per bin
    at the default 32), pooled over all pixels of all pages (paper and ink
    included), normalized to sum 1. Distance = sqrt(JS divergence with log
    base 2) (``scipy.spatial.distance.jensenshannon``), a true metric bounded in [0, 1]: 0 for identical
    distributions, 1 for disjoint supports. The page sets need not be paired or equal in size.
    """
    hp = ab_histogram(preds, bins)
    hr = ab_histogram(references, bins)
    if hp.sum() == 0 or hr.sum() == 0:
        return float("nan")
    return float(jensenshannon(hp.ravel(), hr.ravel(), base=2))
