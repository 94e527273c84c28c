"""Chapter palette: pull the colors of one run's pages toward the chapter's own color clusters.

A post-processor over the generator's working-size RGB outputs of one chapter; it knows nothing of the model
and never sees a ground truth. It only moves chroma (Cr, Cb of YCbCr, the channels that `transfer_chroma`
puts on the page's own luma), so the "lines" output keeps the page's gray wherever the color fits.

`ChapterPalette.fit` clusters the chroma of all pages of the run with k-means (K centers c_k). `apply` then
moves each page's chroma v (relative to neutral gray) by one of these modes, with strength alpha:

- "pull" (default): v' = v + alpha (c_k - v), c_k the pixel's nearest center: hue and saturation move
  toward the chapter's cluster.
- "hue": v' = |v| * u / |u| with u = v + alpha (c_k - v). The hue turns toward the cluster while the saturation
  |v| of every pixel is kept, so the page is not made grayer (a grayer page scores a lower color spread by
  itself, which is not the consistency asked for).

benchmarks/chapter_consistency.py measures what each mode and strength gains, against controls that only gray the
pages; the README has the results.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.cluster.vq import kmeans2, vq

from manga_cyclegan.color import checked_page

MODES = ("pull", "hue")
NEUTRAL = 128.0  # Cr, Cb of a gray pixel in 8-bit YCbCr


def kmeans(points: np.ndarray, k: int, seed: int = 0, iterations: int = 50) -> np.ndarray:
    """Deterministic k-means (``scipy.cluster.vq.kmeans2``: k-means++ seeding from `seed`, Lloyd iterations):
    (N, D) points -> (min(k, distinct points), D) centers."""
    x = np.asarray(points, dtype=np.float64)
    # k-means++ draws each seed among the points not yet picked; with fewer distinct points than k it runs out.
    k = min(int(k), len(np.unique(x, axis=0)))
    if k < 1:
        raise ValueError("kmeans needs at least one point and k >= 1")
    with warnings.catch_warnings():  # a cluster emptied by a Lloyd step keeps its center
        warnings.filterwarnings("ignore", "One of the clusters is empty", UserWarning)
        centers, _ = kmeans2(x, k, iter=iterations, minit="++", seed=np.random.default_rng(seed))
    return centers


def nearest_center(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest center (Euclidean, ``scipy.cluster.vq.vq``) for every point of (..., D) points."""
    p = np.asarray(points, dtype=np.float32)
    code, _ = vq(p.reshape(-1, p.shape[-1]), np.asarray(centers, dtype=np.float32), check_finite=False)
    return code.reshape(p.shape[:-1])


def _ycrcb(color: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 RGB -> uint8 YCrCb (8-bit, as `transfer_chroma` reads it)."""
    return cv2.cvtColor(checked_page(color, 3, "color page"), cv2.COLOR_RGB2YCrCb)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")


@dataclass
class ChapterPalette:
    """The chroma clusters of one chapter and how `apply` moves a page toward them (see the module docstring).

    centers: (K, 2) Cr, Cb of the chapter's clusters.
    """

    centers: np.ndarray
    mode: str = "pull"
    strength: float = 0.5

    def __post_init__(self) -> None:
        _check_mode(self.mode)

    @classmethod
    def fit(
        cls,
        colors: Sequence[np.ndarray],
        k: int = 8,
        mode: str = "pull",
        strength: float = 0.5,
        sample: int = 50_000,
        seed: int = 0,
    ) -> ChapterPalette:
        """Cluster the chroma of a chapter's colorized pages (uint8 HxWx3, any sizes) into `k` centers.

        Up to `sample` pixels, drawn with `seed`, are clustered: the same pages give the same palette.
        """
        _check_mode(mode)  # before the clustering, not after it
        if not colors:
            raise ValueError("fit needs at least one page")
        pixels = np.concatenate([_ycrcb(c)[..., 1:].reshape(-1, 2).astype(np.float32) for c in colors])
        rng = np.random.default_rng(seed)
        if len(pixels) > sample:
            pixels = pixels[np.sort(rng.choice(len(pixels), sample, replace=False))]
        return cls(kmeans(pixels, k, seed=seed).astype(np.float32), mode, float(strength))

    def apply(self, color: np.ndarray) -> np.ndarray:
        """One page of the chapter (uint8 HxWx3) with its chroma moved toward the palette; luma kept."""
        ycrcb = _ycrcb(color)
        # Each 8-bit (Cr, Cb) pair moves on its own: one lookup table serves every pixel.
        ycrcb[..., 1:] = self._chroma_table()[ycrcb[..., 1], ycrcb[..., 2]]
        return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)

    def _chroma_table(self) -> np.ndarray:
        """(256, 256, 2) uint8: the moved (Cr, Cb) of every 8-bit (Cr, Cb)."""
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
