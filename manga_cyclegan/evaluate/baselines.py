"""Non-learned / trivially-learned colorization baselines.

* :func:`gray_copy` — the B/W page replicated to RGB (no color at all).
* :class:`ToneLookup` — the best colorization from gray level alone: a
  tone → mean color table learned from COLOR pages only (unpaired), applied to
  the local tone of the B/W page (screentone dots blurred to their mean).

Both take/return numpy ``uint8`` pages (``HxW`` in, ``HxWx3`` RGB out).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from manga_cyclegan.color import (
    checked_page,
    ink_mask,
    lab_to_rgb,
    local_tone,
    luma_float,
    rgb_to_lab,
)

__all__ = ["gray_copy", "ToneLookup"]

def gray_copy(bw: Any) -> np.ndarray:
    """The B/W page replicated to 3 channels: ``uint8 HxW → uint8 HxWx3``."""
    a = checked_page(bw, 1, "B/W page")
    return np.repeat(a[..., None], 3, axis=-1)


class ToneLookup:
    """Best colorization from (local) gray level alone, learned from unpaired color pages.

    ``fit``: for every pixel of every color page, take its local tone
    (:func:`local_tone` of the Rec.601 luma, the same blur as at apply time)
    and put it in one of ``bins`` equal-width tone bins over 0..255; each bin
    stores the mean color of its pixels, averaged in CIELAB (the Lab mean is
    the better single-color summary under ΔE than an RGB mean), and the mean
    tone of its pixels. Only pixels in flat areas (own luma within
    ``flat_tol`` of the local tone) contribute, so edge pixels, whose blurred
    tone mixes paper, ink and neighbors, do not pollute the colors of other
    tones.
    Empty bins fall back to neutral gray of the bin's center tone, except
    empty bins within ``fill_radius`` bins of a bin with data, which take that
    bin's color (so a tone a few levels off a learned color still gets it).

    ``apply``: local tone of the B/W page (same blur) → color by linear
    interpolation between bins (in Lab, at the bins' mean tones, precomputed
    into a 1024-entry RGB table); then ink (see :func:`ink_mask`) is copied
    from the B/W page so lines and lettering stay black.

    Optional tone calibration: ``fit(..., bw_pages=[...])`` also learns a
    monotone map from B/W local tone to color-page local luma by quantile
    matching of the two (unpaired) distributions of local tone over flat
    areas, for screentones whose density is not linear in luma (the
    synthetic screen has 64 dot levels, hatching for dark tones and plain
    paper above luma 235). Without ``bw_pages`` the identity is used (blurred
    screentone ≈ luma).
    """

    LUT_SIZE = 1024

    def __init__(
        self,
        ink_threshold: int = 128,
        ink_sigma: float = 2.0,
        ink_size: int = 9,
        ink_ratio: float = 0.7,
        ink_min_background: float = 100.0,
    ) -> None:
        self.ink_threshold = int(ink_threshold)
        self.ink_sigma = float(ink_sigma)
        self.ink_size = int(ink_size)
        self.ink_ratio = float(ink_ratio)
        self.ink_min_background = float(ink_min_background)
        self.bins: int | None = None
        self.blur: int = 8
        self.blur_mode: str = "box"
        self.fill_radius: int = 2
        self.statistic: str = "mean"
        self.bin_tone: np.ndarray | None = None  # (bins,) mean tone per bin
        self.bin_lab: np.ndarray | None = None  # (bins, 3) mean Lab per bin
        self.bin_count: np.ndarray | None = None  # (bins,) pixel count per bin
        self.calib_x: np.ndarray | None = None  # B/W tone quantiles
        self.calib_y: np.ndarray | None = None  # color luma quantiles
        self._lut: np.ndarray | None = None

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        color_pages: Iterable[Any],
        bins: int = 64,
        blur: int = 8,
        blur_mode: str = "box",
        bw_pages: Iterable[Any] | None = None,
        flat_tol: float | None = 6.0,
        fill_radius: int = 2,
        statistic: str = "mean",
    ) -> "ToneLookup":
        """Learn the tone → color table from color pages (uint8 HxWx3 RGB). Returns self.

        ``bins`` tone bins over 0..255; ``blur``/``blur_mode`` define the local
        tone (:func:`local_tone`), used identically by :meth:`apply`;
        ``bw_pages`` (optional, unpaired B/W pages) enable tone calibration.
        ``fill_radius``: see the class docstring.

        ``flat_tol``: only pixels whose own luma is within ``flat_tol`` of their
        local tone (i.e. inside flat areas, not on edges where the blur mixes
        paper, ink and neighbors) contribute colors, so a tone's color is not
        polluted by edge mixtures of other colors; ``None`` uses every pixel.

        ``statistic``: ``"mean"`` (default) = mean color of the bin in Lab,
        the least-squares answer, which for a tone shared by several colors is
        a blend of them; ``"mode"`` = the most frequent color of the bin (RGB
        quantized to 4 bits/channel to count, then the mean of the pixels in
        the winning cell), which picks one of the colors sharing a tone.
        """
        if statistic not in ("mean", "mode"):
            raise ValueError(f"statistic must be 'mean' or 'mode', got {statistic!r}")
        if bins < 2:
            raise ValueError("bins must be >= 2")
        self.bins, self.blur, self.blur_mode = int(bins), int(blur), str(blur_mode)
        self.fill_radius = int(fill_radius)
        count = np.zeros(bins, np.float64)
        tone_sum = np.zeros(bins, np.float64)
        lab_sum = np.zeros((bins, 3), np.float64)
        n_cells = 4096  # 4 bits per RGB channel, for statistic="mode"
        cell_count = np.zeros(bins * n_cells, np.float64) if statistic == "mode" else None
        cell_rgb = np.zeros((bins * n_cells, 3), np.float64) if statistic == "mode" else None
        luma_hist = np.zeros(256 * 4, np.float64)
        calib_tol = 6.0 if flat_tol is None else float(flat_tol)
        n_pages = 0
        for page in color_pages:
            rgb = checked_page(page, 3, "color page")
            luma = luma_float(rgb)
            tone = local_tone(luma, self.blur, self.blur_mode).ravel()
            luma_hist += self._flat_tone_hist(tone.reshape(luma.shape), calib_tol)
            lab = rgb_to_lab(rgb).reshape(-1, 3)
            flat_rgb = rgb.reshape(-1, 3)
            if flat_tol is not None:
                keep = np.abs(luma.ravel() - tone) <= flat_tol
                tone, lab, flat_rgb = tone[keep], lab[keep], flat_rgb[keep]
            idx = self._bin_index(tone)
            if cell_count is not None:
                q = flat_rgb >> 4
                joint = idx * n_cells + ((q[:, 0].astype(np.int64) << 8) | (q[:, 1] << 4) | q[:, 2])
                cell_count += np.bincount(joint, minlength=cell_count.size)
                for k in range(3):
                    cell_rgb[:, k] += np.bincount(joint, weights=flat_rgb[:, k], minlength=cell_count.size)
            count += np.bincount(idx, minlength=bins)
            tone_sum += np.bincount(idx, weights=tone, minlength=bins)
            for k in range(3):
                lab_sum[:, k] += np.bincount(idx, weights=lab[:, k], minlength=bins)
            n_pages += 1
        if n_pages == 0 or count.sum() == 0:
            raise ValueError("ToneLookup.fit: no color pages")

        centers = (np.arange(bins) + 0.5) * (256.0 / bins) - 0.5
        has = count > 0
        self.bin_count = count.astype(np.int64)
        self.bin_tone = np.where(has, tone_sum / np.maximum(count, 1), centers)
        gray = np.clip(np.rint(centers), 0, 255).astype(np.uint8)
        gray_lab = rgb_to_lab(np.repeat(gray[:, None], 3, axis=1))
        mean_lab = lab_sum / np.maximum(count, 1)[:, None]
        if cell_count is not None:
            cc = cell_count.reshape(bins, n_cells)
            best = cc.argmax(axis=1)
            rows = np.arange(bins) * n_cells + best
            mode_rgb = cell_rgb[rows] / np.maximum(cell_count[rows], 1)[:, None]
            mean_lab = rgb_to_lab(np.clip(mode_rgb / 255.0, 0.0, 1.0))
        self.statistic = statistic
        self.bin_lab = np.where(has[:, None], mean_lab, gray_lab)

        self.calib_x = self.calib_y = None
        if bw_pages is not None:
            bw_hist = np.zeros_like(luma_hist)
            for page in bw_pages:
                t = local_tone(checked_page(page, 1, "B/W page"), self.blur, self.blur_mode)
                bw_hist += self._flat_tone_hist(t, calib_tol)
            if bw_hist.sum() > 0:
                q = np.linspace(0.0, 1.0, 1025)
                x = self._hist_quantiles(bw_hist, q)
                y = self._hist_quantiles(luma_hist, q)
                # a tone shared by many quantiles (a flat screen area) maps to the
                # middle of their targets, so np.interp gets strictly increasing x
                ux, inv = np.unique(x, return_inverse=True)
                self.calib_x = ux
                self.calib_y = np.bincount(inv, weights=y) / np.bincount(inv)
        self._build_lut()
        return self

    def _bin_index(self, tone: np.ndarray) -> np.ndarray:
        assert self.bins is not None
        return np.clip((tone * (self.bins / 256.0)).astype(np.int64), 0, self.bins - 1)

    def _flat_tone_hist(self, tone: np.ndarray, tol: float) -> np.ndarray:
        """Histogram (1/4-level bins) of the local tone over flat areas only, where
        the tone is within ``tol`` of its own local mean (edges excluded, so the
        two domains' histograms are made of the same flat regions)."""
        flat = np.abs(tone - local_tone(tone, self.blur, self.blur_mode)) <= tol
        return np.bincount(self._fine_index(tone[flat]), minlength=256 * 4).astype(np.float64)

    @staticmethod
    def _fine_index(tone: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(tone * 4.0).astype(np.int64), 0, 1023)

    @staticmethod
    def _hist_quantiles(hist: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Quantiles of a histogram over values ``j / 4`` (mid-rank CDF, linear interpolation)."""
        nz = hist > 0
        v = np.arange(hist.size)[nz] / 4.0
        h = hist[nz]
        cdf = (np.cumsum(h) - 0.5 * h) / h.sum()
        return np.interp(q, cdf, v)

    def _nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Interpolation nodes (tone, Lab), one per bin: a bin with data sits at
        its pixels' mean tone with their mean Lab; an empty bin sits at its
        center tone and takes the color of the nearest bin with data if that
        is at most ``fill_radius`` bins away, else neutral gray of its tone."""
        assert self.bin_tone is not None and self.bin_lab is not None and self.bin_count is not None
        has = self.bin_count > 0
        x = self.bin_tone.copy()
        y = self.bin_lab.copy()  # empty bins already hold gray
        data = np.flatnonzero(has)
        if len(data):
            for i in np.flatnonzero(~has):
                j = data[np.argmin(np.abs(data - i))]
                if abs(j - i) <= self.fill_radius:
                    y[i] = self.bin_lab[j]
        # strictly increasing abscissae (bins are disjoint; guard float ties)
        x = np.maximum.accumulate(x + np.arange(len(x)) * 1e-9)
        return x, y

    def _build_lut(self) -> None:
        x, y = self._nodes()
        grid = np.linspace(0.0, 255.0, self.LUT_SIZE)
        lab = np.stack([np.interp(grid, x, y[:, k]) for k in range(3)], axis=1)
        self._lut = lab_to_rgb(lab, as_uint8=True)  # (LUT_SIZE, 3)

    # ---------------------------------------------------------------- apply
    def tone_of(self, bw: Any) -> np.ndarray:
        """Local tone of a B/W page as used by :meth:`apply` (after calibration), float32 0..255."""
        t = local_tone(checked_page(bw, 1, "B/W page"), self.blur, self.blur_mode)
        if self.calib_x is not None and self.calib_y is not None:
            t = np.interp(t, self.calib_x, self.calib_y).astype(np.float32)
        return t

    def apply(self, bw: Any) -> np.ndarray:
        """Colorize one B/W page: ``uint8 HxW → uint8 HxWx3``."""
        if self._lut is None:
            raise RuntimeError("ToneLookup.apply called before fit")
        a = checked_page(bw, 1, "B/W page")
        t = self.tone_of(a)
        idx = np.clip(np.rint(t * ((self.LUT_SIZE - 1) / 255.0)).astype(np.int64), 0, self.LUT_SIZE - 1)
        out = self._lut[idx]
        ink = ink_mask(
            a, self.ink_threshold, self.ink_sigma, self.ink_size, self.ink_ratio, self.ink_min_background
        )
        out[ink] = a[ink][:, None]  # keep the page's own (black) ink
        return out

    __call__ = apply
