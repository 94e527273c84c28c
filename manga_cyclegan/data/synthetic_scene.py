"""Page composition for the synthetic manga benchmark: panels, backgrounds, characters, balloons.

:func:`draw_page` returns the (labels, shadow) pair described in
:mod:`manga_cyclegan.data.synthetic_draw`; all randomness comes from the ``rng`` passed in.
"""
from __future__ import annotations

import cv2
import numpy as np

from .synthetic_draw import (
    BALLOON,
    GROUND,
    INK,
    INTERIOR,
    N_CHARACTERS,
    PAPER,
    SEA,
    SKY,
    UNSET,
    cel_shadow,
    draw_character,
    fill_poly,
    outline_of,
    part_id,
    stroke,
)

FIRST_PART = part_id(0, 0)


# ----------------------------------------------------------------------------------------------
# Panel layout
# ----------------------------------------------------------------------------------------------
def _clip_half_plane(poly: np.ndarray, n: np.ndarray, c: float) -> np.ndarray:
    """Sutherland-Hodgman: keep the part of convex ``poly`` where n . p >= c."""
    out = []
    for i in range(len(poly)):
        a, b = poly[i], poly[(i + 1) % len(poly)]
        da, db = a @ n - c, b @ n - c
        if da >= 0:
            out.append(a)
        if (da >= 0) != (db >= 0):
            out.append(a + (b - a) * (da / (da - db)))
    return np.array(out)


def panel_layout(rng, h, w):
    """1-4 convex panels (optionally slanted cuts) separated by white gutters, inside a margin."""
    m, g = max(3, round(0.04 * w)), max(3, round(0.03 * w))
    pieces = [np.array([[m, m], [w - 1 - m, m], [w - 1 - m, h - 1 - m], [m, h - 1 - m]], np.float64)]
    n = int(rng.choice([1, 2, 3, 4], p=[0.1, 0.3, 0.35, 0.25]))
    while len(pieces) < n:
        areas = [cv2.contourArea(p.astype(np.float32)) for p in pieces]
        poly = pieces.pop(int(np.argmax(areas)))
        x0, y0 = poly.min(0)
        x1, y1 = poly.max(0)
        horizontal_cut = (y1 - y0) > 0.9 * (x1 - x0) or rng.random() < 0.25
        slant = rng.uniform(-0.12, 0.12) if rng.random() < 0.4 else 0.0
        t = rng.uniform(0.38, 0.62)
        if horizontal_cut:  # cut line across x, at height t
            yc = y0 + t * (y1 - y0)
            a, b = np.array([x0, yc + slant * (y1 - y0)]), np.array([x1, yc - slant * (y1 - y0)])
        else:
            xc = x0 + t * (x1 - x0)
            a, b = np.array([xc + slant * (x1 - x0), y0]), np.array([xc - slant * (x1 - x0), y1])
        d = (b - a) / np.linalg.norm(b - a)
        nrm = np.array([-d[1], d[0]])
        first = _clip_half_plane(poly, nrm, nrm @ a + g / 2)
        second = _clip_half_plane(poly, -nrm, -(nrm @ a) + g / 2)
        pieces += [first, second]
    return pieces


# ----------------------------------------------------------------------------------------------
# Backgrounds (drawn over the panel's bounding box; the panel mask clips them)
# ----------------------------------------------------------------------------------------------
def _clouds(rng, lab, box, t, n):
    x0, y0, x1, y1 = box
    for _ in range(n):
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y0 + 0.35 * (y1 - y0))
        r = rng.uniform(0.05, 0.1) * (x1 - x0) + 3
        mask = np.zeros(lab.shape, np.uint8)
        for _ in range(int(rng.integers(3, 6))):
            c = (int(cx + rng.uniform(-1.6, 1.6) * r), int(cy + rng.uniform(-0.3, 0.3) * r))
            cv2.circle(mask, c, int(r * rng.uniform(0.6, 1.0)), 1, -1)
        lab[outline_of(mask.astype(bool), t)] = INK  # cloud = outline only, sky inside


def _background(rng, lab, box, kind, t):
    x0, y0, x1, y1 = box
    pw, ph = x1 - x0, y1 - y0
    sub = lab[y0:y1 + 1, x0:x1 + 1]
    if kind == SKY:
        sub[:] = SKY
        _clouds(rng, lab, box, t, int(rng.integers(1, 4)))
        for _ in range(int(rng.integers(0, 3))):  # birds
            bx, by, s = rng.uniform(x0, x1), rng.uniform(y0, y0 + 0.5 * ph), rng.uniform(2, 4)
            stroke(lab, [(bx - s, by - s / 2), (bx, by), (bx + s, by - s / 2)], 1)
        return
    hy = y0 + rng.uniform(0.3, 0.6) * ph  # horizon / floor line
    if kind in (SEA, GROUND):
        sub[:] = SKY
        xs = np.linspace(x0 - 2, x1 + 2, 24)
        if kind == GROUND:  # rolling hills
            amp, fq, ph0 = rng.uniform(0, 0.08) * ph, rng.uniform(0.5, 2.0), rng.uniform(0, 6.3)
            ys = hy - amp * np.abs(np.sin(fq * np.pi * (xs - x0) / pw + ph0))
        else:
            ys = np.full_like(xs, hy)
        edge = np.stack([xs, ys], 1)
        fill_poly(lab, np.vstack([edge, [(x1 + 2, y1 + 2), (x0 - 2, y1 + 2)]]), kind, 0)
        stroke(lab, edge, t)
        if rng.random() < 0.5:
            _clouds(rng, lab, (x0, y0, x1, int(hy)), t, int(rng.integers(1, 3)))
        for _ in range(int(rng.integers(6, 14))):  # waves / grass tufts, bigger when nearer
            yy = rng.uniform(hy + 4, y1)
            s = 2 + 6 * (yy - hy) / max(ph, 1)
            xx = rng.uniform(x0, x1)
            if kind == SEA:
                cv2.ellipse(lab, (int(xx), int(yy)), (int(2 * s), int(s)), 0, 200, 340, INK, 1)
            else:
                stroke(lab, [(xx - s, yy - s), (xx - s / 3, yy), (xx, yy - 1.3 * s), (xx + s / 3, yy), (xx + s, yy - s)])
        return
    # Interior: wall, floor line, floor boards toward a vanishing point, a window onto the sky.
    sub[:] = INTERIOR
    hy = y0 + rng.uniform(0.6, 0.85) * ph
    stroke(lab, [(x0, hy), (x1, hy)], t)
    vx = rng.uniform(x0, x1)
    for fx in np.linspace(x0 - pw, x1 + pw, 9):
        stroke(lab, [(vx + (fx - vx) * 0.15, hy), (fx, y1 + 2)])
    ww, wh = rng.uniform(0.25, 0.45) * pw, rng.uniform(0.25, 0.45) * (hy - y0)
    wx, wy = rng.uniform(x0, x1 - ww), rng.uniform(y0 + 0.1 * ph, max(y0 + 0.1 * ph, hy - wh - 6))
    rect = [(wx, wy), (wx + ww, wy), (wx + ww, wy + wh), (wx, wy + wh)]
    fill_poly(lab, rect, SKY, t + 1)
    stroke(lab, [(wx + ww / 2, wy), (wx + ww / 2, wy + wh)], t)
    stroke(lab, [(wx, wy + wh / 2), (wx + ww, wy + wh / 2)], t)


# ----------------------------------------------------------------------------------------------
# Speech balloons with lettering
# ----------------------------------------------------------------------------------------------
def _glyph(lab, rng, x, y, g):
    """A fake character: 2-4 strokes between points of a 3x3 grid in a g x g cell."""
    pts = np.array([(x + i * (g - 1) / 2, y + j * (g - 1) / 2) for j in range(3) for i in range(3)])
    for _ in range(int(rng.integers(2, 5))):
        a, b = rng.choice(9, 2, replace=False)
        stroke(lab, [pts[a], pts[b]], 1)


_DISK = np.array([(x, y) for x in np.linspace(-1, 1, 9) for y in np.linspace(-1, 1, 9) if x * x + y * y <= 1])


def _balloon(rng, lab, box, pmask, taken, heads, target, t, g):
    """Speech balloon near the top of the panel, tail toward ``target`` (x, y, head radius).

    Placed >= 90 % inside the panel (slanted panels!), clear of other balloons (``taken``, updated)
    and hiding almost none of any head (``heads``: list of (x, y, radius)); skipped after 8 tries.
    """
    x0, y0, x1, y1 = box
    pw, ph = x1 - x0, y1 - y0
    h, w = lab.shape
    probes = [np.round(np.clip((hx, hy - 0.3 * r) + r * _DISK, 0, (w - 1, h - 1))).astype(int)
              for hx, hy, r in heads]
    for _ in range(8):
        ax, ay = rng.uniform(0.18, 0.3) * pw, rng.uniform(0.13, 0.22) * ph
        ax, ay = max(ax, 1.6 * g), max(ay, 1.6 * g)
        cx, cy = rng.uniform(x0 + 0.6 * ax, x1 - 0.6 * ax), y0 + ay * rng.uniform(0.8, 1.6)
        mask = np.zeros(lab.shape, np.uint8)
        cv2.ellipse(mask, (int(cx), int(cy)), (int(ax), int(ay)), 0, 0, 360, 1, -1)
        m = mask.astype(bool)
        if (m & pmask).sum() >= 0.9 * m.sum() and not (m & taken).any() \
                and all(m[p[:, 1], p[:, 0]].mean() <= 0.06 for p in probes):
            break
    else:
        return
    d = np.subtract(target[:2], (cx, cy))
    dist = max(np.hypot(*d), 1e-6)
    u, nrm = d / dist, np.array([-d[1], d[0]]) / dist
    rim = 1.0 / np.hypot(u[0] / ax, u[1] / ay)  # balloon radius toward the speaker
    length = min(dist - target[2], rim + 2.5 * g)  # stop short of the speaker's head
    if length > rim + g:
        base, tip = np.array([cx, cy]), np.array([cx, cy]) + u * length
        w = 0.25 * min(ax, ay)
        cv2.fillPoly(mask, [np.round([base + nrm * w, base - nrm * w, tip]).astype(np.int32)], 1)
    mask = mask.astype(bool)
    taken |= cv2.dilate(mask.astype(np.uint8), np.ones((2 * g + 1, 2 * g + 1), np.uint8)).astype(bool)
    lab[mask] = BALLOON
    lab[outline_of(mask, t)] = INK
    # Lettering: vertical columns read right-to-left (manga) or horizontal lines.
    hx, hy = 0.62 * ax, 0.62 * ay
    step = g + max(1, g // 3)
    vertical = rng.random() < 0.7
    cols = int(2 * hx // step) if vertical else int(2 * hy // step)
    length = int(2 * hy // step) if vertical else int(2 * hx // step)
    for c in range(cols):
        n = int(rng.integers(max(1, length // 2), length + 1))
        for i in range(n):
            if vertical:
                _glyph(lab, rng, cx + hx - (c + 1) * step, cy - hy + i * step, g)
            else:
                _glyph(lab, rng, cx - hx + i * step, cy - hy + c * step, g)


# ----------------------------------------------------------------------------------------------
# Page
# ----------------------------------------------------------------------------------------------
def draw_page(rng: np.random.Generator, h: int, w: int):
    """Draw one page: returns ``labels`` (uint8 HxW) and ``shadow`` (bool HxW)."""
    lab = np.full((h, w), PAPER, np.uint8)
    shadow = np.zeros((h, w), bool)
    t = 1 if w < 200 else 2
    border = max(2, round(w / 90))
    glyph = int(np.clip(round(w / 40), 4, 8))
    polys, panels = panel_layout(rng, h, w), []
    for poly in polys:
        pmask = np.zeros((h, w), np.uint8)
        fill_poly(pmask, poly, 1, 0)
        pmask = pmask.astype(bool)
        x0, y0 = np.floor(poly.min(0)).astype(int)
        x1, y1 = np.ceil(poly.max(0)).astype(int)
        box = (x0, y0, x1, y1)
        pw, ph = x1 - x0, y1 - y0
        plab = np.full((h, w), UNSET, np.uint8)
        _background(rng, plab, box, int(rng.integers(3, 7)), t)
        n_chars = 1 if pw < 0.3 * w or rng.random() < 0.4 else 2
        kinds = rng.choice(N_CHARACTERS, n_chars, replace=False)
        light = 1 if rng.random() < 0.5 else -1
        heads = []
        for i, k in enumerate(kinds):
            u = float(np.clip(0.16 * ph, 6, 28) * rng.uniform(0.7, 1.3))  # head radius, px
            u = min(u, 0.22 * pw)
            if n_chars == 1:
                fx = rng.uniform(0.2, 0.8) if rng.random() < 0.75 else rng.choice([-0.02, 1.02])
                flip = 1 if rng.random() < 0.5 else -1
            else:
                fx = rng.uniform(0.15, 0.4) if i == 0 else rng.uniform(0.6, 0.85)
                flip = (1 if i == 0 else -1) * (1 if rng.random() < 0.85 else -1)  # face each other
            cx = x0 + fx * pw
            cy = max(y1 - rng.uniform(2.3, 5.0) * u, y0 + rng.uniform(1.0, 2.0) * u)
            draw_character(plab, int(k), cx, cy, u, flip)
            heads.append((cx, cy, 1.5 * u))
        big = pw * ph > 0.15 * w * h
        n_balloons = int(rng.choice(3, p=[0.15, 0.5, 0.35] if big else [0.35, 0.65, 0.0]))
        taken = np.zeros((h, w), bool)
        for b in range(n_balloons):
            _balloon(rng, plab, box, pmask, taken, heads, heads[b % len(heads)], t, glyph)
        lab[pmask] = plab[pmask]
        panels.append((pmask, box, light))
    for poly in polys:
        stroke(lab, poly, border, closed=True)
    # Cel shadow is computed last, on what is actually visible of each part in each panel (after
    # occlusion, clipping and borders): so every visible region is <= 30 % shadow per row and its
    # mean colour stays nearest to its own palette entry.
    for pmask, (x0, y0, x1, y1), light in panels:
        sl = np.s_[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1]
        sub, inside = lab[sl], pmask[sl]
        for i in np.unique(sub[inside]):
            if i >= FIRST_PART:
                shadow[sl] |= cel_shadow((sub == i) & inside, -light)
    return lab, shadow
