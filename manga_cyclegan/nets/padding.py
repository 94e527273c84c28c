"""The one pad-to-multiple the generator needs: two stride-2 downsamplings give back a page's size only when its
sides are multiples of 4."""

from __future__ import annotations

import torch
import torch.nn.functional as F

SIZE_MULTIPLE = 4


def pad_to_multiple(x: torch.Tensor, multiple: int = SIZE_MULTIPLE, always: bool = False) -> torch.Tensor:
    """Pad [..., H, W] at the bottom and right up to multiples of `multiple`.

    Reflection keeps the padded border looking like page content; it needs pad < size, else the edge is
    replicated. `always=True` pads by (-H) % multiple even when that is zero and always reflects: the same
    computation without a Python branch on the page size, which torch.export needs for a dynamic height (pages
    must then be at least `multiple` + 1 pixels on each side)."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if always:
        return F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
    if not (pad_h or pad_w):
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
