"""Showing scores and pages: the text table of methods by metrics, and the contact sheet of pages."""

from __future__ import annotations

import math
from typing import Any, Mapping

import cv2
import numpy as np

from manga_cyclegan.evaluate.metrics import METRIC_DIRECTION


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if abs(f) >= 100:
        return f"{f:.1f}"
    if abs(f) >= 10:
        return f"{f:.2f}"
    return f"{f:.4f}" if abs(f) < 1 else f"{f:.3f}"


def format_table(rows: Mapping[str, Mapping[str, float]], directions: Mapping[str, str] | None = None) -> str:
    """Aligned text table: one row per method, one column per metric.

    Column headers carry ``↑`` (higher is better), ``↓`` (lower is better) or
    ``≈`` (closer to real color pages is better) from :data:`METRIC_DIRECTION`
    (override/extend with ``directions``). Columns are the union of metric
    names in first-seen order; missing values print as ``-``.
    """
    dirs = dict(METRIC_DIRECTION)
    if directions:
        dirs.update(directions)
    cols: list[str] = []
    for r in rows.values():
        for k in r:
            if k not in cols:
                cols.append(k)
    header = ["method"] + [f"{c} {dirs[c]}" if c in dirs else c for c in cols]
    body = [[str(name)] + [_fmt(r.get(c)) for c in cols] for name, r in rows.items()]
    widths = [max(len(row[j]) for row in [header] + body) for j in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join([cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])])

    out = [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in body]
    if any(dirs.get(c) == "≈" for c in cols):
        out.append("(↑ higher is better, ↓ lower is better, ≈ closer to real color pages is better)")
    return "\n".join(out)


def contact_sheet(columns: dict[str, list[np.ndarray]], n_pages: int, gap: int = 4) -> np.ndarray:
    """One row per page, one column per named list of pages (uint8 HxW or HxWx3, page-sized), a header of names."""
    names = list(columns)
    rows = []
    for i in range(min(n_pages, len(columns[names[0]]))):
        cells = [np.repeat(c[i][..., None], 3, -1) if c[i].ndim == 2 else c[i] for c in (columns[n] for n in names)]
        height = max(c.shape[0] for c in cells)
        cells = [np.pad(c, ((0, height - c.shape[0]), (0, 0), (0, 0)), constant_values=255) for c in cells]
        rows.append(np.concatenate([x for c in cells for x in (c, np.full((height, gap, 3), 128, np.uint8))][:-1], 1))
    if not rows:
        return np.full((1, 1, 3), 255, np.uint8)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    header = np.full((24, width, 3), 255, np.uint8)
    cell = (rows[0].shape[1] + gap) // len(names)
    for k, name in enumerate(names):
        cv2.putText(header, name, (k * cell + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    sep = np.full((gap, width, 3), 128, np.uint8)
    return np.concatenate([header] + [x for r in rows for x in (r, sep)][:-1], 0)
