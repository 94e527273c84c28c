"""Scene drawing for the synthetic manga benchmark (see :mod:`manga_cyclegan.data.synthetic`).

A page is drawn ONCE as two arrays at page resolution:

* ``labels`` (uint8, HxW): one class id per pixel. Ink (every black line) is class 0 and is
  painted *into* the label map, so later shapes cover earlier lines (painter's algorithm).
* ``shadow`` (bool, HxW): the cel-shadow band of character parts.

Both renderings (colour truth and B/W screentone) are pure functions of these two arrays, which
is what guarantees that the label maps and the two renderings agree pixel for pixel.

Character shapes are authored in a canonical frame: head centre at (0, 0), head radius 1, y
pointing down, character facing +x. A :class:`_Pen` maps that frame to the page (scale,
horizontal flip, position). No anti-aliasing: the label map must stay exact.
"""
from __future__ import annotations

import cv2
import numpy as np

INK, PAPER, BALLOON, SKY, SEA, GROUND, INTERIOR = range(7)
HAIR, SKIN, OUTFIT = range(3)
N_CHARACTERS = 4
UNSET = 255  # "nothing drawn here" marker on per-panel canvases

_SHIFT = 2  # cv2 fixed-point bits: sub-pixel vertex placement keeps small shapes symmetric
_ONE = 1 << _SHIFT


def part_id(k: int, p: int) -> int:
    """Label id of part ``p`` (HAIR/SKIN/OUTFIT) of character ``k`` (0..3)."""
    return 7 + 3 * k + p


def _fx(pts) -> np.ndarray:
    return np.round(np.asarray(pts, np.float64).reshape(-1, 2) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def fill_poly(canvas, pts, value, ink=1):
    """Fill a polygon with ``value`` and (if ``ink``) outline it with INK of that thickness."""
    p = _fx(pts)
    cv2.fillPoly(canvas, [p], int(value), lineType=cv2.LINE_8, shift=_SHIFT)
    if ink:
        cv2.polylines(canvas, [p], True, INK, thickness=int(ink), lineType=cv2.LINE_8, shift=_SHIFT)


def stroke(canvas, pts, thick=1, closed=False):
    cv2.polylines(canvas, [_fx(pts)], closed, INK, thickness=int(thick), lineType=cv2.LINE_8, shift=_SHIFT)


def ellipse_pts(cx, cy, ax, ay, a0=0.0, a1=360.0, n=32) -> np.ndarray:
    """Points on an ellipse; angles in degrees, image convention (270 deg = top)."""
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], 1)


def outline_of(mask: np.ndarray, thick: int) -> np.ndarray:
    """Inner outline (``thick`` px) of a boolean mask: used for unions of shapes (balloon+tail, clouds)."""
    k = np.ones((2 * thick + 1, 2 * thick + 1), np.uint8)
    return mask & ~cv2.erode(mask.astype(np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


# ----------------------------------------------------------------------------------------------
# Characters
# ----------------------------------------------------------------------------------------------
class _Pen:
    """Draws canonical-frame shapes onto a canvas: X = cx + flip*x*u, Y = cy + y*u."""

    def __init__(self, canvas, cx, cy, u, flip, thick):
        self.c, self.cx, self.cy, self.u, self.f, self.t = canvas, cx, cy, u, flip, thick

    def tf(self, pts):
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        return np.stack([self.cx + self.f * p[:, 0] * self.u, self.cy + p[:, 1] * self.u], 1)

    def poly(self, pts, label, ink=True):
        fill_poly(self.c, self.tf(pts), label, self.t if ink else 0)

    def ell(self, cx, cy, ax, ay, label, ink=True, a0=0.0, a1=360.0):
        self.poly(ellipse_pts(cx, cy, ax, ay, a0, a1), label, ink)

    def line(self, pts, thick=None):
        stroke(self.c, self.tf(pts), self.t if thick is None else thick)

    def blob(self, cx, cy, ax, ay):  # solid ink ellipse (eyes, buttons)
        self.poly(ellipse_pts(cx, cy, ax, ay, n=16), INK, ink=False)


def _mirror(pts):
    return [(-x, y) for x, y in pts]


def _arm(p, side, skin, outfit, sleeve, w=0.27, wrist=(1.55, 4.0)):
    """Arm hanging from the shoulder; the first ``sleeve`` fraction is covered by the outfit."""
    (sx, sy), (wx, wy) = (side * 1.15, 1.6), (side * wrist[0], wrist[1])

    def seg(t0, t1, label):
        ax_, ay_ = sx + (wx - sx) * t0, sy + (wy - sy) * t0
        bx, by = sx + (wx - sx) * t1, sy + (wy - sy) * t1
        p.poly([(ax_ - w, ay_), (ax_ + w, ay_), (bx + w, by), (bx - w, by)], label)

    if sleeve < 1:
        seg(sleeve, 1, skin)
    p.ell(wx, wy + 0.18, 0.24, 0.28, skin)  # hand
    if sleeve > 0:
        seg(0, sleeve, outfit)


def _head(p, skin, eye_h=0.2):
    top = ellipse_pts(0, 0, 0.85, 1.0, 180, 360, 20)
    jaw = [(0.85, 0.05), (0.72, 0.62), (0.15, 1.05), (-0.5, 0.82), (-0.85, 0.05)]
    p.poly(np.vstack([top, jaw]), skin)
    p.ell(-0.78, 0.18, 0.16, 0.26, skin)  # ear, on the back side of the head
    for ex in (-0.28, 0.42):  # eyes are shifted toward the facing side
        p.blob(ex, 0.18, 0.11, eye_h)
        p.line([(ex - 0.16, -0.17), (ex + 0.14, -0.22)])  # brow
    p.line([(0.08, 0.66), (0.32, 0.63)])  # mouth


def _char_spiky_vest(p, k):
    """Type 0: spiky hair, sleeveless open vest over bare chest, bare arms."""
    hair, skin, outfit = (part_id(k, i) for i in (HAIR, SKIN, OUTFIT))
    for side in (-1, 1):
        _arm(p, side, skin, outfit, sleeve=0.0, w=0.3)
    p.poly([(-0.3, 0.7), (0.3, 0.7), (0.32, 1.5), (-0.32, 1.5)], skin)  # neck
    p.poly([(-1.3, 1.45), (1.3, 1.45), (1.2, 7.5), (-1.2, 7.5)], skin)  # bare chest
    half = [(0.5, 1.42), (1.38, 1.42), (1.3, 7.5), (0.42, 7.5), (0.32, 3.4)]  # open vest panel
    p.poly(half, outfit)
    p.poly(_mirror(half), outfit)
    p.line([(-0.25, 4.3), (0.0, 4.45), (0.25, 4.3)])  # pecs/abs hint: reads as a bare torso
    _head(p, skin)
    ang = np.radians(np.linspace(168, 12, 13))
    rad = np.where(np.arange(13) % 2 == 0, 1.0, 1.85)  # alternate base / spike tip
    crown = np.stack([np.cos(ang) * rad * 0.98, -np.sin(ang) * rad - 0.1], 1)
    xs = np.linspace(0.9, -0.9, 9)
    fringe = np.stack([xs, np.where(np.arange(9) % 2 == 1, 0.02, -0.42)], 1)  # bangs point down
    p.poly(np.vstack([[(-1.05, 0.45)], crown, fringe]), hair)


def _char_long_coat(p, k):
    """Type 1: long straight hair to mid-back with a blunt fringe, long coat with lapels."""
    hair, skin, outfit = (part_id(k, i) for i in (HAIR, SKIN, OUTFIT))
    back = np.vstack([ellipse_pts(0, -0.1, 1.12, 1.18, 180, 360, 20),
                      [(1.3, 3.0), (0.6, 3.15), (0.0, 3.0), (-0.6, 3.15), (-1.3, 3.0)]])
    p.poly(back, hair)
    for side in (-1, 1):
        _arm(p, side, skin, outfit, sleeve=1.0, w=0.36, wrist=(1.75, 4.3))
    p.poly([(-0.3, 0.7), (0.3, 0.7), (0.32, 1.5), (-0.32, 1.5)], skin)
    p.poly([(-1.4, 1.4), (1.4, 1.4), (2.0, 7.5), (-2.0, 7.5)], outfit)
    p.line([(-0.42, 1.4), (0.05, 2.9), (0.45, 1.4)])  # lapels
    p.line([(0.05, 2.9), (0.05, 7.5)])  # coat opening
    for y in (3.4, 4.3, 5.2, 6.1):
        p.blob(0.32, y, 0.1, 0.1)  # buttons
    _head(p, skin)
    top = ellipse_pts(0, -0.08, 0.98, 1.12, 180, 360, 20)
    p.poly(np.vstack([top, [(0.98, -0.1), (0.75, -0.32), (-0.75, -0.32), (-0.98, -0.1)]]), hair)
    lock = [(0.62, -0.3), (0.98, -0.3), (1.1, 2.2), (0.75, 2.1)]  # side locks in front of shoulders
    p.poly(lock, hair)
    p.poly(_mirror(lock), hair)


def _char_bob_dress(p, k):
    """Type 2: round bob with a bun on top, dress with puffed sleeves and a flared skirt."""
    hair, skin, outfit = (part_id(k, i) for i in (HAIR, SKIN, OUTFIT))
    p.ell(-0.2, -1.3, 0.48, 0.44, hair)  # bun
    for side in (-1, 1):
        _arm(p, side, skin, outfit, sleeve=0.0, w=0.22, wrist=(1.45, 4.0))
    for lx in (-0.55, 0.2):
        p.poly([(lx, 6.4), (lx + 0.42, 6.4), (lx + 0.38, 8.2), (lx + 0.04, 8.2)], skin)  # legs
    p.poly([(-0.28, 0.7), (0.28, 0.7), (0.3, 1.5), (-0.3, 1.5)], skin)
    p.poly([(-1.05, 1.45), (1.05, 1.45), (0.72, 3.3), (-0.72, 3.3)], outfit)  # bodice
    p.poly([(-0.72, 3.3), (0.72, 3.3), (2.1, 6.6), (-2.1, 6.6)], outfit)  # skirt
    for sx in (-1, 1):
        p.line([(sx * 0.3, 3.6), (sx * 0.8, 6.5)])  # skirt folds
        p.ell(sx * 1.12, 1.85, 0.46, 0.4, outfit)  # puffed sleeve
    p.ell(0, 1.45, 0.42, 0.35, skin, a0=0, a1=180)  # round neckline
    _head(p, skin, eye_h=0.25)
    outer = ellipse_pts(0, -0.05, 1.12, 1.15, 180, 360, 24)
    window = [(1.15, 0.85), (0.7, 0.85), (0.7, -0.3), (-0.7, -0.3), (-0.7, 0.85), (-1.15, 0.85)]
    p.poly(np.vstack([outer, window]), hair)


def _char_cap_stripes(p, k):
    """Type 3: short hair under a cap with a brim, striped short-sleeved T-shirt."""
    hair, skin, outfit = (part_id(k, i) for i in (HAIR, SKIN, OUTFIT))
    for side in (-1, 1):
        _arm(p, side, skin, outfit, sleeve=0.33, w=0.3)
    p.poly([(-0.3, 0.7), (0.3, 0.7), (0.32, 1.5), (-0.32, 1.5)], skin)
    p.poly([(-1.3, 1.45), (1.3, 1.45), (1.25, 7.5), (-1.25, 7.5)], outfit)
    # Horizontal stripes on every outfit pixel drawn so far (shirt and sleeves).
    ys = p.tf([(0, y) for y in np.arange(2.0, 7.6, 0.55)])[:, 1].round().astype(int)
    rows = np.zeros(p.c.shape[0], bool)
    for y in ys:
        rows[max(y, 0):max(y + p.t, 0)] = True
    p.c[rows[:, None] & (p.c == outfit)] = INK
    p.ell(0, 1.45, 0.38, 0.3, skin, a0=0, a1=180)
    _head(p, skin)
    p.poly([(-1.0, 0.55), (-1.04, -0.2), (0.6, -0.6), (0.9, -0.2), (0.55, -0.05), (0.3, -0.3),
            (0.0, -0.1), (-0.45, -0.25), (-0.62, 0.45)], hair)  # short hair showing under the cap
    p.poly(np.vstack([ellipse_pts(0, -0.42, 1.02, 0.82, 180, 360, 20), [(1.02, -0.42)]]), hair)  # dome
    p.poly([(0.45, -0.58), (1.8, -0.45), (1.75, -0.26), (0.45, -0.34)], hair)  # brim, facing side
    p.ell(0, -1.24, 0.13, 0.09, hair)  # button
    p.line([(0.0, -1.2), (0.3, -0.45)])  # seam


CHARACTER_DRAWERS = (_char_spiky_vest, _char_long_coat, _char_bob_dress, _char_cap_stripes)
CHARACTER_TYPE_NAMES = ("spiky-hair/vest", "long-hair/coat", "bob-bun/dress", "cap/striped-shirt")


def cel_shadow(mask: np.ndarray, side: int, frac: float = 0.3) -> np.ndarray:
    """Shadow band: in every row, the ``frac`` of the mask's pixels farthest toward ``side``.

    Row-wise (rather than bbox-wise) so the band follows the silhouette and covers ~frac of the
    part's area for every shape; with two arms in a row the far arm falls in shadow, like a light.
    """
    m = mask if side > 0 else mask[:, ::-1]
    from_far = np.cumsum(m[:, ::-1], 1)[:, ::-1]  # pixels of the row at or beyond x
    band = m & (from_far <= frac * m.sum(1, keepdims=True))
    return band if side > 0 else band[:, ::-1]


def draw_character(canvas, k, cx, cy, u, flip):
    """Draw character type ``k`` (head centre at (cx, cy), head radius ``u`` px) onto ``canvas``."""
    thick = 1 if u < 8 else 2  # characters get bold outlines so they read on busy tones
    CHARACTER_DRAWERS[k](_Pen(canvas, cx, cy, u, flip, thick), k)
