"""Conversions between page tensors in [-1, 1] and uint8 arrays, shared by training, evaluation and predict."""

from __future__ import annotations

import numpy as np
import torch

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
