"""Chapter palette: pull the colors of one run's pages toward the chapter's own color clusters.

A post-processor over the generator's working-size RGB outputs of one chapter; it knows nothing of the model
and never sees a ground truth. It only moves chroma (Cr, Cb of YCbCr, the channels that `transfer_chroma`
puts on the page's own luma), so the default "lines" output keeps the page's gray wherever the color fits.

`ChapterPalette.fit` clusters the chroma of all pages of the run with k-means (K centers c_k). `apply` then
moves each page's chroma v (relative to neutral gray) by one of these modes, with strength alpha:

- "pull" (default): v' = v + alpha (c_k - v), c_k the pixel's nearest center: hue and saturation move
  toward the chapter's cluster.
- "hue": v' = |v| * u / |u| with u = v + alpha (c_k - v). The hue turns toward the cluster while the saturation
  |v| of every pixel is kept, so the page is not made grayer (a grayer page scores a lower color spread by
  itself, which is not the consistency asked for).
- "match": per cluster k, the page's pixels of that cluster are standardized to the chapter's mean and
  standard deviation of cluster k, v' = v + alpha ((v - mu_page) / sd_page * sd_chapter + mu_chapter - v).
- "region": regions of flat screentone in the B/W page (see `tone_regions`); every pixel of a region moves
  toward the center nearest to the region's mean chroma m: v' = v + alpha (c_k(m) - v), so at alpha = 1 a
  region is one color of the chapter's palette.

Measured with benchmarks/chapter_consistency.py: two demo models (the shipped one and one trained with seed 1),
each on two chapters of 24 synthetic test pages. The default, "pull" with K=8 and alpha=0.5, lowers the color
spread of the character parts (consistency, ΔE00) by 0.61 to 0.81 (7-9 %), 0.28 to 0.51 of it more than graying
the pages to the same colorfulness does, lowers CIEDE2000 by 0.2 to 0.3 and leaves the character color accuracy
as it was (within 0.003), in all four. Stronger settings (alpha=1, K=4, "hue" at alpha=1) lower the spread more
but cost character color accuracy in some of the four; "region" mostly grays the pages; "match" does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from manga_cyclegan.color import local_tone

MODES = ("pull", "hue", "match", "region")
NEUTRAL = 128.0  # Cr, Cb of a gray pixel in 8-bit YCbCr


def kmeans(points: np.ndarray, k: int, seed: int = 0, iterations: int = 50) -> np.ndarray:
    """Deterministic k-means (k-means++ seeding from `seed`, Lloyd iterations): (N, D) points -> (k, D) centers."""
    x = np.asarray(points, dtype=np.float64)
    k = min(int(k), len(x))
    if k < 1:
        raise ValueError("kmeans needs at least one point and k >= 1")
    rng = np.random.default_rng(seed)
    centers = [x[rng.integers(len(x))]]
    d2 = ((x - centers[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = d2.sum()
        centers.append(x[rng.choice(len(x), p=d2 / total)] if total > 0 else x[rng.integers(len(x))])
        d2 = np.minimum(d2, ((x - centers[-1]) ** 2).sum(1))
    c = np.array(centers)
    for _ in range(iterations):
        nearest = nearest_center(x, c)
        counts = np.bincount(nearest, minlength=k)
        sums = np.stack([np.bincount(nearest, x[:, j], minlength=k) for j in range(x.shape[1])], 1)
        new = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], c)
        if np.allclose(new, c):
            break
        c = new
    return c


def nearest_center(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest center (Euclidean) for every point of (..., D) points."""
    p = np.asarray(points, dtype=np.float32)
    c = np.asarray(centers, dtype=np.float32)
    # |p - c|^2 = |p|^2 - 2 p.c + |c|^2; |p|^2 is the same for every center.
    scores = (c * c).sum(1) - 2.0 * (p.reshape(-1, p.shape[-1]) @ c.T)
    return scores.argmin(1).reshape(p.shape[:-1])


def tone_regions(bw_page: np.ndarray, shape: tuple[int, int], flat_tol: float = 4.0, min_px: int = 24) -> np.ndarray:
    """Regions of one flat screentone in a B/W page, as an int32 label map of `shape` (the working size).

    The 8 px box mean of the page cancels the screen, so inside one region of tone it is constant; the cores are
    the connected pixels where it varies by at most `flat_tol` over 3x3, at least `min_px` large. Every other
    pixel (ink lines, the band where two tones meet) joins its nearest core. Label 0: a page without any core.
    """
    tone = local_tone(bw_page, 8)
    spread = cv2.dilate(tone, np.ones((3, 3), np.uint8)) - cv2.erode(tone, np.ones((3, 3), np.uint8))
    _, cores, stats, _ = cv2.connectedComponentsWithStats((spread <= flat_tol).astype(np.uint8), connectivity=4)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_px
    keep[0] = False
    cores = np.where(keep, np.cumsum(keep), 0).astype(np.int32)[cores]
    if cores.max() > 0:
        _, (iy, ix) = ndimage.distance_transform_edt(cores == 0, return_indices=True)
        cores = cores[iy, ix]
    h, w = shape
    return cv2.resize(cores, (w, h), interpolation=cv2.INTER_NEAREST) if cores.shape != (h, w) else cores


def _ycrcb(color: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 RGB -> uint8 YCrCb (8-bit, as `transfer_chroma` reads it)."""
    color = np.asarray(color)
    if color.ndim != 3 or color.shape[-1] != 3 or color.dtype != np.uint8:
        raise ValueError(f"expected a uint8 HxWx3 RGB page, got {color.dtype} {color.shape}")
    return cv2.cvtColor(color, cv2.COLOR_RGB2YCrCb)


def _rgb(ycrcb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(np.rint(ycrcb), 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB)


@dataclass
class ChapterPalette:
    """The chroma clusters of one chapter and how `apply` moves a page toward them (see the module docstring).

    centers: (K, 2) Cr, Cb of the chapter's clusters; stats: (K, 2, 2) per cluster the chapter's mean and
    standard deviation of Cr, Cb (used by "match").
    """

    centers: np.ndarray
    stats: np.ndarray
    mode: str = "pull"
    strength: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}: choose one of {', '.join(MODES)}")

    @classmethod
    def fit(
        cls,
        colors: Sequence[np.ndarray],
        bw_pages: Sequence[np.ndarray] | None = None,
        k: int = 8,
        mode: str = "pull",
        strength: float = 0.5,
        sample: int = 50_000,
        seed: int = 0,
    ) -> ChapterPalette:
        """Cluster the chroma of a chapter's colorized pages (uint8 HxWx3, any sizes) into `k` centers.

        `bw_pages` are accepted for the API's symmetry with `apply`; the clusters come from the colors alone.
        Up to `sample` pixels, drawn with `seed`, are clustered: the same pages give the same palette.
        """
        if mode not in MODES:  # before the clustering, not after it
            raise ValueError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
        if not colors:
            raise ValueError("fit needs at least one page")
        chroma = [_ycrcb(c)[..., 1:].reshape(-1, 2).astype(np.float32) for c in colors]
        pixels = np.concatenate(chroma)
        rng = np.random.default_rng(seed)
        if len(pixels) > sample:
            pixels = pixels[np.sort(rng.choice(len(pixels), sample, replace=False))]
        centers = kmeans(pixels, k, seed=seed).astype(np.float32)
        # The chapter's per-cluster statistics over every pixel of every page.
        sums = np.zeros((len(centers), 2))
        squares = np.zeros((len(centers), 2))
        counts = np.zeros(len(centers))
        for page in chroma:
            nearest = nearest_center(page, centers)
            counts += np.bincount(nearest, minlength=len(centers))
            for j in range(2):
                sums[:, j] += np.bincount(nearest, page[:, j], minlength=len(centers))
                squares[:, j] += np.bincount(nearest, page[:, j].astype(np.float64) ** 2, minlength=len(centers))
        mean = sums / np.maximum(counts, 1)[:, None]
        std = np.sqrt(np.maximum(squares / np.maximum(counts, 1)[:, None] - mean**2, 0.0))
        stats = np.stack([np.where(counts[:, None] > 0, mean, centers), std], 1).astype(np.float32)
        return cls(centers, stats, mode, float(strength))

    def apply(self, color: np.ndarray, bw_page: np.ndarray | None = None) -> np.ndarray:
        """One page of the chapter (uint8 HxWx3) with its chroma moved toward the palette; luma kept.

        "region" needs the page's B/W original `bw_page` (uint8 HxW, any size: the regions are found at its
        resolution and brought to the color's); the other modes ignore it.
        """
        ycrcb = _ycrcb(color)
        if self.mode in ("hue", "pull"):
            # Each 8-bit (Cr, Cb) pair moves on its own: one lookup table serves every pixel.
            ycrcb[..., 1:] = self._chroma_table()[ycrcb[..., 1], ycrcb[..., 2]]
            return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)
        ycrcb = ycrcb.astype(np.float32)
        chroma = ycrcb[..., 1:]
        alpha = self.strength
        if self.mode == "region":
            if bw_page is None:
                raise ValueError('mode "region" needs the B/W page')
            regions = tone_regions(np.asarray(bw_page), chroma.shape[:2]).ravel()
            n = int(regions.max()) + 1
            counts = np.maximum(np.bincount(regions, minlength=n), 1)
            means = np.stack([np.bincount(regions, chroma[..., j].ravel(), minlength=n) for j in range(2)], 1)
            means = (means / counts[:, None]).astype(np.float32)
            target = self.centers[nearest_center(means, self.centers)][regions].reshape(chroma.shape)
            chroma += alpha * (target - chroma)
            return _rgb(ycrcb)
        # "match": this page's mean and standard deviation per cluster, mapped onto the chapter's.
        v = chroma.reshape(-1, 2)
        nearest = nearest_center(v, self.centers)
        counts = np.bincount(nearest, minlength=len(self.centers))[:, None]
        mean = np.stack([np.bincount(nearest, v[:, j], minlength=len(self.centers)) for j in range(2)], 1)
        square = np.stack([np.bincount(nearest, v[:, j] ** 2, minlength=len(self.centers)) for j in range(2)], 1)
        mean = mean / np.maximum(counts, 1)
        std = np.sqrt(np.maximum(square / np.maximum(counts, 1) - mean**2, 0.0))
        gain = np.where(counts >= 2, self.stats[:, 1] / np.maximum(std, 1e-3), 1.0)  # a lone pixel keeps its spread
        matched = (v - mean[nearest]) * gain[nearest] + self.stats[nearest, 0]
        chroma[:] = (v + alpha * (matched - v)).reshape(chroma.shape)
        return _rgb(ycrcb)

    def _chroma_table(self) -> np.ndarray:
        """(256, 256, 2) uint8: the moved (Cr, Cb) of every 8-bit (Cr, Cb) under "hue" or "pull"."""
        key = (self.mode, self.strength, self.centers.tobytes())
        if getattr(self, "_table_key", None) != key:
            grid = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1).astype(np.float32)
            v = grid - NEUTRAL
            moved = v + self.strength * (self.centers[nearest_center(grid, self.centers)] - NEUTRAL - v)
            if self.mode == "hue":
                radius, new_radius = np.hypot(v[..., 0], v[..., 1]), np.hypot(moved[..., 0], moved[..., 1])
                scale = (radius / np.maximum(new_radius, 1e-3))[..., None]
                moved = np.where(new_radius[..., None] > 1e-3, moved * scale, v)
            self._table = np.clip(np.rint(moved + NEUTRAL), 0, 255).astype(np.uint8)
            self._table_key = key
        return self._table
