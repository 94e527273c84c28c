"""Conversions between page tensors in [-1, 1] and uint8 arrays, shared by training, evaluation and predict."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

# ITU-R BT.601 luma, the weights PIL uses for "RGB" -> "L": a color page and its gray version agree everywhere.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] -> [N, 1, H, W] luma; works in [-1, 1] because the weights sum to one."""
    w = torch.tensor(LUMA_WEIGHTS, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * w).sum(dim=1, keepdim=True)


def to_rgb(gray: torch.Tensor) -> torch.Tensor:
    """[N, 1, H, W] -> [N, 3, H, W] by replication, the gray page as a color image."""
    return gray.expand(-1, 3, -1, -1)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """One page [C, H, W] in [-1, 1] -> uint8 array HxW (C=1) or HxWx3 (C=3)."""
    array = ((image.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def from_uint8(array: np.ndarray) -> torch.Tensor:
    """uint8 HxW or HxWx3 -> [C, H, W] float in [-1, 1]."""
    tensor = torch.from_numpy(np.array(array, dtype=np.float32))  # a copy: decoded pages may be read-only
    tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)
    return (tensor / 127.5 - 1).contiguous()


def descreen(pages: torch.Tensor, sigma: float, border: str | None = None) -> torch.Tensor:
    """Gaussian low-pass of [N, C, H, W] pages (std `sigma` pixels, reflected borders): a screentone's dots become
    their mean tone, while lines and shapes stay. sigma <= 0 returns the pages as they are. `border`: the padding
    mode; None picks "reflect", or "replicate" for pages too small to reflect."""
    if sigma <= 0:
        return pages
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32, device=pages.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(pages.dtype)
    channels = pages.shape[1]
    h, w = pages.shape[-2:]
    mode = border or ("reflect" if radius < h and radius < w else "replicate")
    x = F.pad(pages, (radius, radius, radius, radius), mode=mode)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
