"""What the metrics accept as pages, checked and brought to one form.

* RGB pages are ``uint8`` ``HxWx3`` (sRGB); grayscale pages (B/W inputs, label maps) are ``uint8`` ``HxW``
  (``HxWx1`` is accepted). Float input is accepted if it lies in ``[0, 1]``, converted with ``round(x * 255)``;
  floats outside ``[0, 1]`` raise ``ValueError`` (convert ``[-1, 1]`` network outputs yourself). One page is
  checked and converted by ``manga_cyclegan.color.checked_page(page, channels, name, convert=True)``.
* "Lists of pages" may be any sequence of arrays (pages may differ in size) or one stacked array (``NxHxWx3`` for
  RGB, ``NxHxW`` for gray/labels).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def label_map(x: Any, name: str = "labels") -> np.ndarray:
    """An integer HxW class map, its values kept."""
    a = np.asarray(x)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise ValueError(f"{name}: expected HxW label map, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name}: label map must be an integer array")
    return a


def rgb_pages(x: Any) -> list:
    """A list of RGB pages from a sequence, a stacked NxHxWx3 array or one HxWx3 page."""
    if isinstance(x, np.ndarray):
        if x.ndim == 4:
            return list(x)
        if x.ndim == 3 and x.shape[-1] == 3:
            return [x]
    return list(x)


def gray_pages(x: Any) -> list:
    """A list of gray pages (or label maps) from a sequence, a stacked NxHxW array or one HxW page."""
    if isinstance(x, np.ndarray):
        if x.ndim == 3 and x.shape[-1] != 1:
            return list(x)
        if x.ndim == 2 or (x.ndim == 3 and x.shape[-1] == 1):
            return [x]
        if x.ndim == 4:
            return list(x)
    return list(x)


def same_length(*named: tuple[str, list]) -> int:
    """The common length of named page lists; ValueError naming each length if they differ."""
    n = {len(v) for _, v in named}
    if len(n) != 1:
        raise ValueError("page lists differ in length: " + ", ".join(f"{k}={len(v)}" for k, v in named))
    return n.pop()


def same_size(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """ValueError unless two pages have the same height and width."""
    if a.shape[:2] != b.shape[:2]:
        raise ValueError(f"{what}: page sizes differ {a.shape[:2]} vs {b.shape[:2]}")
