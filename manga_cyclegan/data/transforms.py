"""Albumentations pipelines for manga pages, built from plain parameters.

Contracts
---------
* Input: ``uint8`` page, ``HxW`` for domain A (1 channel) or ``HxWx3`` for domain B (RGB).
* Output: ``float32`` tensor ``CxHxW`` in ``[-1, 1]`` (``C`` = 1 for A, 3 for B).
* Pages are never squashed: resizes keep the aspect ratio, and a page smaller than the crop
  is padded with WHITE (paper), not stretched.
* Shrinking always uses ``INTER_AREA`` so screentone averages to its true grey instead of
  aliasing into moiré; enlarging uses ``INTER_CUBIC``.
* Train randomness comes only from the ``seed`` passed per call, so the same
  (seed, epoch, index) always gives the same crop/flip regardless of worker layout.
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
import numpy as np
import torch

from manga_cyclegan.color import checked_page, from_uint8

__all__ = [
    "PageTransform",
    "build_eval_transform",
    "build_train_transform",
    "resize_to_max_side",
]

PAPER_WHITE = 255


def resize_to_max_side(img: np.ndarray, max_side: int | None,
                       interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """Shrink so the long side is at most ``max_side`` (aspect kept); never enlarges."""
    if max_side is None:
        return img
    h, w = img.shape[:2]
    if max(h, w) <= max_side:
        return img
    s = max_side / max(h, w)
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interpolation)


class PageTransform:
    """Callable ``(page uint8, seed) -> tensor``; wraps an albumentations ``Compose``.

    ``seed=None`` uses the pipeline's own running random state (not reproducible).
    """

    def __init__(self, pipeline: A.Compose | None, channels: int, max_side: int | None = None):
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.pipeline = pipeline
        self.channels = channels
        self.max_side = max_side

    def __call__(self, img: np.ndarray, seed: int | None = None) -> torch.Tensor:
        img = checked_page(img, self.channels, "domain A" if self.channels == 1 else "domain B")
        if self.max_side is not None:
            img = resize_to_max_side(img, self.max_side)
        if self.pipeline is not None:
            if seed is not None:
                self.pipeline.set_random_seed(int(seed))
            img = self.pipeline(image=img)["image"]
        return from_uint8(img)

    def __repr__(self) -> str:
        return f"PageTransform(channels={self.channels}, max_side={self.max_side}, pipeline={self.pipeline!r})"


def build_train_transform(
    channels: int,
    crop_size: int,
    load_size: int | None = None,
    scale: Sequence[float] = (1.0, 1.0),
    flip: bool = True,
) -> PageTransform:
    """Train pipeline: [short side -> ``load_size``] -> [random scale in ``scale``] ->
    pad with white up to ``crop_size`` -> random ``crop_size`` square crop -> [h-flip].

    Every random choice is drawn from the seed given to the returned callable.
    """
    if crop_size <= 0:
        raise ValueError(f"crop_size must be positive, got {crop_size}")
    lo, hi = (float(scale[0]), float(scale[1]))
    if not (0 < lo <= hi):
        raise ValueError(f"scale must be (lo, hi) with 0 < lo <= hi, got {tuple(scale)}")
    ops: list = []
    if load_size is not None:
        ops.append(A.SmallestMaxSize(max_size=int(load_size), interpolation=cv2.INTER_CUBIC,
                                     area_for_downscale="image", p=1.0))
    if (lo, hi) != (1.0, 1.0):
        ops.append(A.RandomScale(scale_limit=(lo - 1.0, hi - 1.0), interpolation=cv2.INTER_CUBIC,
                                 area_for_downscale="image", p=1.0))
    ops += [
        # Pad (never squash) pages smaller than the crop; white = paper. Random placement so
        # the model does not learn that small pages always sit in the centre.
        A.PadIfNeeded(min_height=crop_size, min_width=crop_size, border_mode=cv2.BORDER_CONSTANT,
                      fill=PAPER_WHITE, position="random", p=1.0),
        A.RandomCrop(height=crop_size, width=crop_size, p=1.0),
    ]
    if flip:
        ops.append(A.HorizontalFlip(p=0.5))
    return PageTransform(A.Compose(ops, p=1.0), channels)


def build_eval_transform(channels: int, val_max_size: int | None = None) -> PageTransform:
    """Eval pipeline: shrink (INTER_AREA) so the long side is <= ``val_max_size``; no crop,
    no randomness; the page keeps its aspect ratio and arbitrary ``HxW``."""
    return PageTransform(None, channels, max_side=val_max_size)
