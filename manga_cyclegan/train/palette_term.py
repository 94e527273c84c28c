"""Decisions rather than averages: the pseudo-pair term as a classification over the series' palette.

An L1 (or L2) regression toward a color the model is unsure of lands between the candidates: half "red hair", half
"green hair" comes out brown, which is neither. Zhang et al. 2016 ("Colorful Image Colorization", section 2.1)
classify over quantized colors instead, with the classes rebalanced toward rare colors. Here the classes are the
palette of the training color pages (k-means of their pixels, RGB in [-1, 1]), and G_AB's RGB output y is scored
against every palette color c_k by its distance, so the architecture and its exported weights stay as they are:

    logits_k = -||y - c_k||^2 / T,      L_palette = E_pixels[ w_t * CE(softmax(logits), t) ]

with t the palette color nearest the true pixel and w the rebalancing weights of Zhang et al. (eq. 4):
w_k proportional to ((1 - lambda) p_k + lambda / K)^-1, lambda = 1/2, normalized so that E_p[w] = 1.
Minimizing it pulls y onto the true color and away from the others: between two candidates, the nearer one wins.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from manga_cyclegan.colorize.palette import kmeans, nearest_center

PIXELS_PER_PAGE = 4096
ZHANG_MIX = 0.5  # Zhang et al.'s lambda, the rebalancing both defaults below take


class PaletteTerm(nn.Module):
    """The palette classification loss; its palette and weights are buffers, so a resumed run keeps them."""

    def __init__(self, classes: int, temperature: float, rebalance: float = ZHANG_MIX):
        super().__init__()
        if classes < 2:
            raise ValueError(f"palette_classes must be >= 2 (or 0 for off), got {classes}")
        if temperature <= 0:
            raise ValueError(f"palette_temperature must be > 0, got {temperature}")
        if not 0 <= rebalance <= 1:
            raise ValueError(f"palette_rebalance must be in [0, 1], got {rebalance}")
        self.temperature = float(temperature)
        self.rebalance = float(rebalance)
        self.register_buffer("centers", torch.zeros(classes, 3))
        self.register_buffer("weights", torch.ones(classes))
        self.register_buffer("fitted", torch.tensor(False))

    def fit(self, pages: list[np.ndarray], seed: int) -> None:
        """Palette and weights from uint8 HxWx3 color pages: k-means of a fixed random sample of their pixels."""
        if not pages:
            raise ValueError("the palette term needs color pages to learn the palette from; none were readable")
        rng = np.random.default_rng(seed)
        pixels = np.concatenate([
            page.reshape(-1, 3)[rng.choice(page.shape[0] * page.shape[1], PIXELS_PER_PAGE)] for page in pages
        ]).astype(np.float64) / 127.5 - 1.0
        centers = kmeans(pixels, len(self.centers), seed=seed)
        k = len(centers)  # fewer when the pages hold fewer distinct colors
        counts = np.bincount(nearest_center(pixels, centers), minlength=k)
        weights = self.rebalancing_weights(counts / counts.sum(), self.rebalance)
        self.centers.zero_()
        self.centers[:k] = torch.as_tensor(centers, dtype=torch.float32)
        # A class k-means did not fill sits far outside the color cube: no pixel is ever nearest to it.
        self.centers[k:] = 100.0
        self.weights.fill_(0.0)
        self.weights[:k] = torch.as_tensor(weights, dtype=torch.float32)
        self.fitted.fill_(True)

    @staticmethod
    def rebalancing_weights(frequencies: np.ndarray, mix: float = ZHANG_MIX) -> np.ndarray:
        """Zhang et al.'s eq. 4: w ~ ((1 - lambda) p + lambda / K)^-1 with lambda = `mix` (their ZHANG_MIX; 1: every
        class weighs the same), scaled so sum_k p_k w_k = 1."""
        mixed = (1 - mix) * frequencies + mix / len(frequencies)
        weights = 1.0 / mixed
        return weights / float((frequencies * weights).sum())

    def forward(self, colorized: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        """The loss of colorized pages against their true colors, both [N, 3, H, W] in [-1, 1]."""
        if not bool(self.fitted):
            raise RuntimeError("PaletteTerm.fit must run before the loss is used")
        y, t = colorized.float(), truth.float()
        logits = -self._squared_distances(y) / self.temperature
        with torch.no_grad():
            target = self._squared_distances(t).argmin(dim=1)
        per_pixel = F.cross_entropy(logits, target, reduction="none")
        return (self.weights[target] * per_pixel).mean()

    def _squared_distances(self, images: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] -> [N, K, H, W]: squared distance of every pixel to every palette color."""
        centers = self.centers
        cross = torch.einsum("nchw,kc->nkhw", images, centers)
        return images.pow(2).sum(dim=1, keepdim=True) - 2 * cross + centers.pow(2).sum(dim=1)[None, :, None, None]
